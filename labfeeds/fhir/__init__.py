"""The FHIR R4 API at /fhir/r4/: labs post results (a Bundle of a DiagnosticReport and its
Observations, or one Observation), the clinic's record system reads patients, results and
schedules.

The resources are validated with fhir.resources' R4B models (FHIR 4.3): the package has no
plain R4 one, and Observation, DiagnosticReport, Bundle, Patient, CarePlan, OperationOutcome
and CapabilityStatement are the same in R4 and R4B for every element read or written here."""
