"""ORU^R01 messages for the HL7 tests, built field by field so each test shows only what it
changes."""

from __future__ import annotations

from dataclasses import dataclass

PLATELET_UNIT = "10\\S\\9/L"  # 10^9/L, its "^" escaped as HL7 wants


@dataclass(frozen=True)
class Obx:
    code: str = "777-3"
    value: str = "210"
    unit: str = PLATELET_UNIT
    reference: str = "150-400"
    status: str = "F"
    value_type: str = "NM"
    system: str = "LN"
    sample_time: str = ""  # OBX-14
    display: str = "Platelets"

    def segment(self, number: int) -> str:
        fields = [""] * 15
        fields[1] = str(number)
        fields[2] = self.value_type
        fields[3] = f"{self.code}^{self.display}^{self.system}"
        fields[5] = self.value
        fields[6] = self.unit
        fields[7] = self.reference
        fields[11] = self.status
        fields[14] = self.sample_time
        return "|".join(["OBX", *fields[1:]]).rstrip("|")


def segment(name: str, fields: dict[int, str]) -> str:
    return "|".join([name] + [fields.get(i, "") for i in range(1, max(fields) + 1)])


def msh(
    *,
    control_id: str = "MSG-1",
    kind: str = "ORU^R01^ORU_R01",
    version: str = "2.5.1",
    application: str = "CITYLIS",
    facility: str = "CITYLAB",
) -> str:
    return (
        f"MSH|^~\\&|{application}|{facility}|LEMTRADA|CLINIC|20250101120000||{kind}|"
        f"{control_id}|P|{version}"
    )


def pid(hospital_number: str, *, authority: str = "", more: str = "") -> str:
    identifier = f"{hospital_number}^^^{authority}^MR" if authority else hospital_number
    if more:
        identifier = f"{more}~{identifier}"
    return segment("PID", {1: "1", 3: identifier, 5: "Patient^Ada", 7: "19850615", 8: "F"})


def obr(sample_time: str, *, filler: str = "FL-1", placer: str = "PL-1", number: int = 1) -> str:
    return segment(
        "OBR", {1: str(number), 2: placer, 3: filler, 4: "58410-2^CBC^LN", 7: sample_time}
    )


def oru(
    hospital_number: str,
    sample_time: str,
    *obx: Obx,
    control_id: str = "MSG-1",
    filler: str = "FL-1",
    authority: str = "",
    **header,
) -> str:
    segments = [
        msh(control_id=control_id, **header),
        pid(hospital_number, authority=authority),
        obr(sample_time, filler=filler),
    ]
    segments.extend(item.segment(n) for n, item in enumerate(obx or (Obx(),), 1))
    return "\r".join(segments) + "\r"
