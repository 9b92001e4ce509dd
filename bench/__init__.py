"""Benchmarks and their committed results (bench/results/)."""
