/* Program entry is provided by the xisa runtime (__xisa_start), not by crt1. */
