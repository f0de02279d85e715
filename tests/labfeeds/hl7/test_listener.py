"""The listener as a lab meets it: `manage.py hl7_listen` in its own process, on the test
database, spoken to over a real TCP socket on loopback with MLLP framing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection as db_connection
from django.utils import timezone

from labfeeds.hl7.framing import FrameBuffer, frame
from labfeeds.models import LabConnection, LabMessage, WaitingResult
from monitoring.models import LabResult, Notification, ResultStatus
from tests.app_server import database_url
from tests.builders import nurse_of, treated_patient
from tests.delivery_harness import ROOT, free_port, wait_for
from tests.factories import ClinicFactory
from tests.labfeeds.hl7.messages import Obx, msh, oru, segment

# The listener is another process: what a test writes must be committed for it to see, and
# the migrations' rows (the analyte catalogue) are put back after each test empties the tables.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TIMEOUT = 30  # seconds, on every socket operation: a 2-core machine running the suite is slow


@dataclass
class Listening:
    port: int
    log: Path
    process: subprocess.Popen


def start_listener(database: str, *args: str) -> Listening:
    port = free_port()
    var_dir = Path(tempfile.mkdtemp(prefix="lemtrada-hl7-"))
    log = var_dir / "hl7_listen.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("REDIS_URL", None)
    env.pop("CELERY_BROKER_URL", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database, VAR_DIR=str(var_dir)
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "hl7_listen", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"hl7_listen exited:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            return False

    wait_for(answers, timeout=60, what=f"hl7_listen on port {port} (log: {log})")
    return Listening(port, log, process)


def stop_listener(listening: Listening) -> int:
    if listening.process.poll() is None:
        os.killpg(listening.process.pid, signal.SIGTERM)
    try:
        return listening.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(listening.process.pid, signal.SIGKILL)
        listening.process.wait(timeout=10)
        raise


@pytest.fixture(scope="module")
def test_database(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        return database_url(db_connection.settings_dict)


@pytest.fixture(scope="module")
def listener(test_database):
    listening = start_listener(test_database)
    yield listening
    stop_listener(listening)


def exchange(port: int, data: bytes, *, sock: socket.socket | None = None) -> str:
    """Send bytes as they are and return the first ACK that comes back."""
    own = sock is None
    sock = sock or socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        sock.settimeout(TIMEOUT)
        sock.sendall(data)
        buffer = FrameBuffer()
        while True:
            chunk = sock.recv(65536)
            assert chunk, "the listener closed the connection without an ACK"
            frames = buffer.feed(chunk)
            if frames.messages:
                return frames.messages[0].decode()
    finally:
        if own:
            sock.close()


def in_log(listener: Listening, text: str) -> str:
    """The log once it says `text` (it is written by another process)."""
    return wait_for(
        lambda: text in (logged := listener.log.read_text()) and logged,
        timeout=10,
        what=f"“{text}” in {listener.log}",
    )


def send(listener: Listening, message: str) -> Ack:
    return Ack(exchange(listener.port, frame(message.encode())))


class Ack:
    def __init__(self, text: str):
        self.text = text
        self.segments = [line.split("|") for line in text.rstrip("\r").split("\r")]

    @property
    def code(self) -> str:
        return next(s for s in self.segments if s[0] == "MSA")[1]

    @property
    def errors(self) -> list[tuple[str, str, str]]:
        """(ERR-2, ERR-4, ERR-8) of each ERR."""
        return [(s[2], s[4], s[8]) for s in self.segments if s[0] == "ERR"]


@pytest.fixture
def patient():
    clinic = ClinicFactory(code="city", name="City MS clinic", time_zone="Europe/London")
    nurse_of(clinic, "nurse", email="nurse@example.org")
    return treated_patient(clinic, days_ago=200, given=True, hospital_number="RX-1001")


@pytest.fixture
def lab(patient):
    return LabConnection.objects.create(
        clinic=patient.clinic,
        name="City lab",
        hl7_sending_application="CITYLIS",
        hl7_sending_facility="CITYLAB",
    )


def sampled(patient, days_ago: int = 2) -> str:
    moment = timezone.localtime(timezone.now(), patient.clinic.zone) - timedelta(days=days_ago)
    return moment.strftime("%Y%m%d%H%M")


def test_a_good_message_is_recorded_flagged_and_alerted(listener, patient, lab):
    message = oru(
        patient.hospital_number,
        sampled(patient),
        Obx(value="40"),
        Obx(code="718-7", value="131", unit="g/L", reference="120-160"),
    )
    ack = send(listener, message)
    assert (ack.code, ack.errors) == ("AA", [])
    platelets = LabResult.objects.get(patient=patient, analyte__code="platelets")
    assert (platelets.tier, platelets.report.source, platelets.report.lab_reference) == (
        "critical",
        "hl7",
        "FL-1",
    )
    assert Notification.objects.filter(result=platelets).exists()
    stored = LabMessage.objects.get()
    assert (stored.connection, stored.status, stored.answer_code) == (
        lab,
        LabMessage.Status.ACCEPTED,
        "AA",
    )
    assert stored.answer == ack.text and stored.raw == message
    logged = in_log(listener, "MSG-1")
    assert "Patient" not in logged and patient.family_name not in logged, "no names in the log"


def test_malformed_framing_is_survived(listener, patient, lab):
    # Bytes outside a frame are dropped; the frame after them on the same connection is read.
    good = frame(oru(patient.hospital_number, sampled(patient)).encode())
    assert Ack(exchange(listener.port, b"GET / HTTP/1.0\r\n\r\n" + good)).code == "AA"
    # A frame over the size limit closes that connection, and only that one.
    with socket.create_connection(("127.0.0.1", listener.port), timeout=TIMEOUT) as huge:
        try:
            huge.sendall(b"\x0b" + b"A" * (1024 * 1024 + 10))
            answered = huge.recv(100)
        except (ConnectionResetError, BrokenPipeError):
            answered = b""  # closed while the last bytes were still arriving: a reset
        assert answered == b"", "closed without an answer"
    in_log(listener, "a frame over")
    again = oru(patient.hospital_number, sampled(patient), control_id="MSG-2")
    assert send(listener, again).code == "AA"
    in_log(listener, "outside an MLLP frame")


def test_a_message_without_msh_is_refused_ar(listener, patient, lab):
    ack = send(listener, segment("PID", {1: "1", 3: patient.hospital_number}) + "\r")
    assert ack.code == "AR"
    assert ack.errors[0][0].startswith("MSH")
    stored = LabMessage.objects.get()
    assert (stored.status, stored.connection, stored.answer_code) == (
        LabMessage.Status.REFUSED,
        None,
        "AR",
    )


def test_an_unsupported_message_type_is_refused_ar(listener, patient, lab):
    ack = send(listener, msh(kind="ADT^A01") + "\r" + segment("PID", {3: "RX-1001"}) + "\r")
    assert ack.code == "AR"
    assert ack.errors[0][0] == "MSH^1^9"
    assert not LabResult.objects.exists()


def test_an_unknown_sender_is_refused_ar_and_kept(listener, patient, lab):
    ack = send(listener, oru(patient.hospital_number, sampled(patient), facility="OTHERLAB"))
    assert ack.code == "AR"
    assert "OTHERLAB" in ack.errors[0][2]
    stored = LabMessage.objects.get()
    assert (stored.connection, stored.status) == (None, LabMessage.Status.REFUSED)
    assert not LabResult.objects.exists()


def test_an_unknown_patient_is_accepted_and_waits(listener, patient, lab):
    ack = send(listener, oru("NOBODY-9", sampled(patient)))
    assert ack.code == "AA"
    ((where, severity, text),) = ack.errors
    assert (where, severity) == ("OBX^1", "W") and "NOBODY-9" in text
    waiting = WaitingResult.objects.get()
    assert (waiting.reason, waiting.hospital_number, waiting.patient_name) == (
        WaitingResult.Reason.UNKNOWN_PATIENT,
        "NOBODY-9",
        "Ada Patient",
    )


def test_an_unknown_code_waits(listener, patient, lab):
    ack = send(
        listener,
        oru(patient.hospital_number, sampled(patient), Obx(), Obx(code="PLT", system="99LOC")),
    )
    assert ack.code == "AA"
    assert [(where, severity) for where, severity, _ in ack.errors] == [("OBX^2", "W")]
    waiting = WaitingResult.objects.get()
    assert (waiting.reason, waiting.code) == (WaitingResult.Reason.UNKNOWN_CODE, "PLT^99LOC")
    assert LabResult.objects.filter(patient=patient).count() == 1


def test_a_unit_not_accepted_refuses_the_message_naming_the_field(listener, patient, lab):
    message = oru(
        patient.hospital_number,
        sampled(patient),
        Obx(),
        Obx(code="718-7", value="13", unit="mmol/L", reference=""),
    )
    ack = send(listener, message)
    assert ack.code == "AE"
    assert [(where, severity) for where, severity, _ in ack.errors] == [("OBX^2^6", "E")]
    assert "mmol/L" in ack.errors[0][2]
    assert not LabResult.objects.exists()
    assert LabMessage.objects.get().status == LabMessage.Status.REFUSED


def test_a_value_that_is_not_a_number_is_refused_naming_obx_5(listener, patient, lab):
    ack = send(listener, oru(patient.hospital_number, sampled(patient), Obx(value="lots")))
    assert ack.code == "AE"
    assert [(where, severity) for where, severity, _ in ack.errors] == [("OBX^1^5", "E")]
    assert not LabResult.objects.exists()


def test_a_sample_time_in_the_future_is_refused(listener, patient, lab):
    ack = send(listener, oru(patient.hospital_number, sampled(patient, days_ago=-1)))
    assert ack.code == "AE"
    ((where, severity, text),) = ack.errors
    assert (where, severity) == ("OBR^1^7", "E") and "future" in text
    assert not LabResult.objects.exists()


def test_a_repeated_control_id_gets_the_same_ack_and_is_stored_once(listener, patient, lab):
    message = oru(patient.hospital_number, sampled(patient), Obx(value="40"))
    first = send(listener, message)
    second = send(listener, message)
    assert first.code == "AA" and second.text == first.text
    assert LabMessage.objects.count() == 1
    assert LabResult.objects.filter(patient=patient).count() == 1
    in_log(listener, "a repeat answered as before")


def test_a_correction_is_a_new_version_with_the_history_kept(listener, patient, lab):
    when = sampled(patient)
    send(listener, oru(patient.hospital_number, when, Obx(value="40")))
    ack = send(
        listener,
        oru(patient.hospital_number, when, Obx(value="240", status="C"), control_id="MSG-2"),
    )
    assert ack.code == "AA"
    result = LabResult.objects.get(patient=patient)
    assert (result.value_text, result.tier, result.status) == ("240", "normal", "corrected")
    assert [h.value_text for h in result.history.order_by("history_date")] == ["40", "240"]


def test_a_final_value_replaces_the_preliminary_one(listener, patient, lab):
    when = sampled(patient)
    send(listener, oru(patient.hospital_number, when, Obx(value="205", status="P")))
    result = LabResult.objects.get(patient=patient)
    assert result.status == ResultStatus.PRELIMINARY
    send(listener, oru(patient.hospital_number, when, Obx(value="210"), control_id="MSG-2"))
    result.refresh_from_db()
    assert (result.status, result.value_text) == (ResultStatus.FINAL, "210")
    assert LabResult.objects.filter(patient=patient).count() == 1


def test_the_lab_withdrawing_a_result_marks_it_entered_in_error(listener, patient, lab):
    when = sampled(patient)
    send(listener, oru(patient.hospital_number, when, Obx(value="40")))
    ack = send(
        listener,
        oru(patient.hospital_number, when, Obx(value="", status="D"), control_id="MSG-2"),
    )
    assert ack.code == "AA"
    result = LabResult.objects.get(patient=patient)
    assert result.is_entered_in_error and not result.awaits_acknowledgement


def test_hl7_send_sends_the_example_file(listener, patient, lab, tmp_path, capsys):
    path = tmp_path / "message.hl7"
    path.write_text(oru(patient.hospital_number, sampled(patient), Obx()).replace("\r", "\n"))
    call_command("hl7_send", str(path), "--port", str(listener.port))
    shown = capsys.readouterr().out
    assert shown.splitlines()[1].startswith("MSA|AA|MSG-1")


def test_a_pinned_port_takes_any_sender_and_stops_cleanly(test_database, patient, lab):
    pinned = start_listener(test_database, "--connection", "City lab")
    try:
        ack = send(pinned, oru(patient.hospital_number, sampled(patient), facility="ELSEWHERE"))
        assert ack.code == "AA"
        assert LabMessage.objects.get().connection == lab
    finally:
        code = stop_listener(pinned)
    assert code == 0
    assert "HL7 listener stopped" in pinned.log.read_text()
