"""`make_email_on_run_failure_sensor`: a run failure sensor that sends an email
over SMTP (SSL or STARTTLS) for each monitored run that fails, as in Dagster.

The sensor is an ordinary `@run_failure_sensor`; `smtplib` is used only when it
sends.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence
from typing import Any

from oprun.definitions.automation.run_status_sensors import (
    RunFailureSensorContext,
    RunStatusSensorDefinition,
    run_failure_sensor,
)
from oprun.definitions.automation.sensors import DefaultSensorStatus
from oprun.errors import DagsterInvalidDefinitionError

_MESSAGE = """From: {email_from}
To: {email_to}
MIME-Version: 1.0
Content-type: text/html
Subject: {email_subject}

{email_body}

<!-- the changing part keeps mail clients from folding repeated alerts together -->
<span style="opacity: 0"> {randomness} </span>
"""

_DEFAULT_PORTS = {"SSL": 465, "STARTTLS": 587}


def _default_body(context: RunFailureSensorContext) -> str:
    run = context.dagster_run
    return "<br>".join([
        f"Job {run.job_name} failed!",
        f"Run ID: {run.run_id}",
        "Mode: default",
        f"Error: {context.failure_event.message}",
    ])


def _default_subject(context: RunFailureSensorContext) -> str:
    return f"Dagster Run Failed: {context.dagster_run.job_name}"


def _send(
    smtp_type: str, host: str, port: int, user: str, password: str, email_from: str, email_to: Sequence[str], message: str,
) -> None:
    import smtplib
    import ssl

    tls = ssl.create_default_context()
    if smtp_type == "SSL":
        with smtplib.SMTP_SSL(host, port, context=tls) as server:
            server.login(user, password)
            server.sendmail(email_from, list(email_to), message)
    else:
        with smtplib.SMTP(host, port) as server:
            server.starttls(context=tls)
            server.login(user, password)
            server.sendmail(email_from, list(email_to), message)


def make_email_on_run_failure_sensor(
    email_from: str,
    email_password: str,
    email_to: Sequence[str],
    email_body_fn: Callable[[RunFailureSensorContext], str] = _default_body,
    email_subject_fn: Callable[[RunFailureSensorContext], str] = _default_subject,
    smtp_host: str = "smtp.gmail.com",
    smtp_type: str = "SSL",
    smtp_port: int | None = None,
    smtp_user: str | None = None,
    name: str | None = None,
    webserver_base_url: str | None = None,
    monitored_jobs: Sequence[Any] | None = None,
    job_selection: Sequence[Any] | None = None,
    monitor_all_code_locations: bool = False,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    monitor_all_repositories: bool = False,
) -> RunStatusSensorDefinition:
    """A run failure sensor (named `email_on_run_failure` unless `name` is given)
    that emails `email_to` from `email_from` when a monitored run fails. An
    unknown `smtp_type` (neither "SSL" nor "STARTTLS") is an error when the
    sensor runs, as in Dagster."""

    def email_on_run_failure(context: RunFailureSensorContext) -> None:
        body = email_body_fn(context)
        if webserver_base_url:
            body += f'<p><a href="{webserver_base_url}/runs/{context.dagster_run.run_id}">View in the Dagster UI</a></p>'
        if smtp_type not in _DEFAULT_PORTS:
            raise DagsterInvalidDefinitionError(f'smtp_type "{smtp_type}" is not supported: use "SSL" or "STARTTLS".')
        message = _MESSAGE.format(
            email_from=email_from, email_to=",".join(email_to), email_subject=email_subject_fn(context),
            email_body=body, randomness=datetime.datetime.now(),
        )
        _send(
            smtp_type, smtp_host, smtp_port or _DEFAULT_PORTS[smtp_type], smtp_user or email_from, email_password,
            email_from, email_to, message,
        )

    made: RunStatusSensorDefinition = run_failure_sensor(
        name=name,
        monitored_jobs=monitored_jobs or job_selection,
        monitor_all_code_locations=monitor_all_code_locations or monitor_all_repositories,
        default_status=default_status,
    )(email_on_run_failure)
    return made
