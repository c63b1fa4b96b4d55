"""GS1 EPCIS 2.0 export of custody events (JSON-LD)."""
