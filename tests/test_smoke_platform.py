"""The platform starts from the real launcher and both health endpoints report."""


def test_hub_and_service_report_database_and_redis(platform, client):
    for url in (f"{platform.url}/hub/health", f"{platform.service_url}/health"):
        report = client.get(url).json()
        # Both say whether the sandbox of servers and lesson kernels starts (off if not root).
        sandbox = report.pop("sandbox")
        assert sandbox == "ok" or sandbox.startswith("off"), sandbox
        if url.endswith("/services/coursehub/health"):
            assert report.pop("workers") == "ok"  # the service also watches grading workers
        assert report == {"status": "ok", "database": "ok", "redis": "ok", "disk": "ok"}
