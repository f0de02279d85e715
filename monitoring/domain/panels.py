"""The panels a check or a lab report belongs to, by code. The model's choices
(monitoring.models.Panel) add the labels; pure modules use these names, so no module spells a
panel's code again."""

BLOOD_COUNT = "blood_count"
KIDNEY = "kidney"
URINE = "urine"
LIVER = "liver"
THYROID = "thyroid"
SKIN = "skin"
CERVICAL = "cervical"
INFECTION_SCREEN = "infection_screen"
# The other MS therapies' checks (docs/clinical-reference.md section 6).
JCV_ANTIBODY = "jcv_antibody"
IMMUNOGLOBULINS = "immunoglobulins"
HEPATITIS_B = "hepatitis_b"
CYP2C9 = "cyp2c9"
MRI = "mri"
EYE_EXAM = "eye_exam"
ECG = "ecg"
