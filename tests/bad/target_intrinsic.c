/* A target-specific intrinsic: wasm's memory.size has no meaning on the native targets. */
static unsigned long probe(void)
{
	return __builtin_wasm_memory_size(0);
}

int main(void)
{
	return probe() == 0;
}
