"""``python -m services.ingestion``: run the ingestion service until SIGTERM."""

from services.common.logging import configure_logging
from services.common.server import serve
from services.ingestion.config import IngestionSettings
from services.ingestion.server import create_server


def main() -> None:
    settings = IngestionSettings()
    configure_logging(settings.log_level, settings.log_json)
    serve(settings, create_server)


if __name__ == "__main__":
    main()
