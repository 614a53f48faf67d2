// Installs the Pulumi mock runtime once for the whole mocha process (see tools/plan/mocks.ts).
import { installMocks } from "../tools/plan/mocks";

installMocks({ stack: "test" });
