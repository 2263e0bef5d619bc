"""What restore planning says about a source kind it could not read: one line, whatever the
endpoint answered (moto's server answers AWS Backup with an HTML 404 page)."""

from __future__ import annotations

from botocore.exceptions import ClientError, EndpointConnectionError

from safetynet.recovery.inspection import unavailable_text

HTML_404 = """<!doctype html>
<html lang=en>
<title>404 Not Found</title>
<h1>Not Found</h1>
<p>The requested URL was not found on the server. If you entered the URL manually please check
your spelling and try again.</p>
"""


def client_error(code: str, message: str, status: int = 400) -> ClientError:
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "ListRecoveryPointsByResource")  # type: ignore[arg-type]


def test_an_html_error_page_becomes_its_status() -> None:
    assert unavailable_text(client_error("404", HTML_404, 404)) == "not available here (HTTP 404 from the endpoint)"


def test_an_api_the_endpoint_does_not_implement_is_not_available_here() -> None:
    assert unavailable_text(NotImplementedError()) == "not available here (not implemented by this endpoint)"
    assert unavailable_text(client_error("UnknownOperationException", "")) == (
        "not available here (UnknownOperationException:)"
    )


def test_access_denied_says_not_allowed_in_one_line() -> None:
    text = unavailable_text(
        client_error("AccessDeniedException", "User: arn:aws:sts::1:assumed-role/r/x is not\nauthorized " + "x" * 300)
    )
    assert text.startswith(
        "not allowed (AccessDeniedException: User: arn:aws:sts::1:assumed-role/r/x is not authorized"
    )
    assert "\n" not in text and len(text) < 150 and text.endswith("...)")


def test_other_failures_are_not_readable() -> None:
    text = unavailable_text(EndpointConnectionError(endpoint_url="https://backup.eu-central-1.amazonaws.com/"))
    assert text.startswith("not readable (Could not connect to the endpoint URL")
