"""``python -m services.inference``: run the inference service until SIGTERM."""

from services.common.logging import configure_logging
from services.common.server import serve
from services.inference.config import InferenceSettings
from services.inference.server import create_server


def main() -> None:
    settings = InferenceSettings()
    configure_logging(settings.log_level, settings.log_json)
    serve(settings, create_server)


if __name__ == "__main__":
    main()
