"""``python -m services.leads``: run the leads service (scoring + suggestions) until SIGTERM."""

from services.common.logging import configure_logging
from services.common.server import serve
from services.leads.config import LeadsSettings
from services.leads.server import create_server


def main() -> None:
    settings = LeadsSettings()
    configure_logging(settings.log_level, settings.log_json)
    serve(settings, create_server)


if __name__ == "__main__":
    main()
