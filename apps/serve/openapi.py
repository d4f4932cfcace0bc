"""The OpenAPI 3.1 description of the REST API, served at ``/openapi.json``."""

from __future__ import annotations

from apps.serve.catalog import Catalog
from apps.serve.payload import MAX_INSTANCES


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi(catalog: Catalog, max_body_bytes: int, time_limit: float) -> dict:
    """The description, with the served apps and their options filled in."""
    names = list(catalog.apps)
    kinds = {name: served.kind for name, served in catalog.apps.items()}
    model = {
        "name": "model",
        "in": "path",
        "required": True,
        "description": "The app: " + ", ".join(f"{n} ({kinds[n]})" for n in names),
        "schema": {"type": "string", "enum": names},
    }
    # Every option of a served app, once (apps sharing a name share its meaning).
    declared: dict = {}
    for name, served in catalog.apps.items():
        for option_name, option in served.options.items():
            declared.setdefault(option_name, (option, []))[1].append(name)
    parameters = {
        name: {**option.schema(), "description": f"{option.help} (apps: {', '.join(apps)})"}
        for name, (option, apps) in declared.items()
    }
    parameters["figure"] = {
        "type": "boolean",
        "description": "add a PNG figure per prediction (spectrogram, attention map) as "
        '"figure": {"b64", "content_type"}',
    }
    instance = {
        "oneOf": [
            {"type": "string", "description": "text apps: the text itself"},
            {"$ref": "#/components/schemas/Base64"},
            {
                "type": "object",
                "description": 'named-input form: {"text": ...}, {"audio": {"b64": ...}}, '
                '{"image": ...} or {"video": ...}',
                "minProperties": 1,
                "maxProperties": 1,
            },
        ]
    }
    errors = {
        "400": _error("the request is malformed; the message names the field"),
        "404": _error("unknown app, or an app that is not trained (the message gives the command)"),
        "411": _error("no Content-Length"),
        "413": _error(f"body over {max_body_bytes:,} bytes, or too many or too large inputs"),
        "415": _error("Content-Type is not application/json"),
        "501": _error('"figure": true, and this install cannot draw it (the serve extra)'),
        "503": _error(f"the app is busy or gave no answer within {time_limit:g} s"),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rnn-apps serving API",
            "version": "1",
            "description": "The TensorFlow Serving REST shape for the rnn-apps models, served "
            f"by `rnnapps serve` with the {catalog.engine} engine. Text apps take strings; "
            'audio, image and video apps take the file\'s bytes as {"b64": "..."} (file paths '
            "are never accepted). A request with any bad input fails whole with 400.",
        },
        "paths": {
            "/v1/models": {
                "get": {
                    "summary": "Every app: state, input kind, options and measured metrics",
                    "responses": {"200": {"description": "the apps", "content": _json()}},
                }
            },
            "/v1/models/{model}": {
                "get": {
                    "summary": "Model status (TensorFlow Serving GetModelStatus)",
                    "parameters": [model],
                    "responses": {
                        "200": {
                            "description": "the status",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/ModelStatus"}
                                }
                            },
                        },
                        "404": errors["404"],
                    },
                }
            },
            "/v1/models/{model}/metadata": {
                "get": {
                    "summary": "What the app does, its options and its metrics.json summary",
                    "parameters": [model],
                    "responses": {
                        "200": {"description": "metadata", "content": _json()},
                        "404": errors["404"],
                    },
                }
            },
            "/v1/models/{model}/figures/{figure}": {
                "get": {
                    "summary": "A PNG figure the model's training run left in its folder "
                    "(training curves, confusion matrix, scores per group, the app's picture); "
                    'the names are listed as "run_figures" in the metadata',
                    "parameters": [
                        model,
                        {
                            "name": "figure",
                            "in": "path",
                            "required": True,
                            "description": "the file name, e.g. training_curves.png",
                            "schema": {"type": "string", "pattern": r"^[a-z0-9_]{1,80}\.png$"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "the figure",
                            "content": {
                                "image/png": {
                                    "schema": {"type": "string", "contentMediaType": "image/png"}
                                }
                            },
                        },
                        "404": _error("unknown app, or no such figure in its folder"),
                    },
                }
            },
            "/v1/models/{model}:predict": {
                "post": {
                    "summary": "Answer inputs (TensorFlow Serving Predict, row or columnar form)",
                    "parameters": [model],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PredictRequest"},
                                "example": {"instances": ["an utterly charming film"]},
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "one prediction per instance, in order",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/PredictResponse"}
                                }
                            },
                        },
                        **errors,
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
                "Base64": {
                    "type": "object",
                    "properties": {"b64": {"type": "string", "contentEncoding": "base64"}},
                    "required": ["b64"],
                    "additionalProperties": False,
                },
                "PredictRequest": {
                    "type": "object",
                    "properties": {
                        "instances": {
                            "type": "array",
                            "items": instance,
                            "minItems": 1,
                            "maxItems": MAX_INSTANCES,
                        },
                        "inputs": {
                            "type": "array",
                            "items": instance,
                            "minItems": 1,
                            "maxItems": MAX_INSTANCES,
                        },
                        "signature_name": {"type": "string", "enum": ["serving_default"]},
                        "parameters": {
                            "type": "object",
                            "properties": parameters,
                            "additionalProperties": False,
                        },
                    },
                    "additionalProperties": False,
                },
                "PredictResponse": {
                    "type": "object",
                    "description": 'row form answers "predictions"; columnar ("inputs") '
                    'answers "outputs". Fields per app: sentiment {input, label, score, '
                    "probabilities}; speech {input, keyword, score} or {input, text}, or "
                    "{input, events} when streaming; text_generation {input, text}; "
                    "translation {input, translation}; captioning {input, caption}; "
                    "video {input, label, score}.",
                    "properties": {
                        "predictions": {"type": "array", "items": {"type": "object"}},
                        "outputs": {"type": "array", "items": {"type": "object"}},
                    },
                },
                "ModelStatus": {
                    "type": "object",
                    "properties": {
                        "model_version_status": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "version": {"type": "string"},
                                    "state": {
                                        "type": "string",
                                        "enum": [
                                            "START",
                                            "LOADING",
                                            "AVAILABLE",
                                            "UNLOADING",
                                            "END",
                                        ],
                                    },
                                    "status": {
                                        "type": "object",
                                        "properties": {
                                            "error_code": {"type": "string"},
                                            "error_message": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        }
                    },
                },
            }
        },
    }


def _json() -> dict:
    return {"application/json": {"schema": {"type": "object"}}}
