"""Closing at the TPS: the KPPS's ballot accounting per race (C.Hasil) and the box seals."""
