"""Lab results by HL7 v2 over MLLP: reading ORU^R01 messages (reading), answering them (ack),
what the listener does with each message (receiving) and the listener itself (listener)."""
