"""Benchmarks: whole-process and detection measurements written to docs/BENCHMARKS.md, never
asserted in tests (criterion benchmarks of hot paths live in crates/*/benches)."""
