"""Tests of the public pages, the published log, tepat-verify and the EPCIS export."""
