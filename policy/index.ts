// The pack only: constructing a PolicyPack starts the policy gRPC server, so tests import
// ./policies instead.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("secure-llm-platform", { enforcementLevel: "mandatory", policies });
