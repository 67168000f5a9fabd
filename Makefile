# The two commands of the quick start. Both set up the host first (quick when nothing is missing).
.PHONY: setup image test

setup:
	scripts/setup-host

# Build and boot-test the default image into output/debian-bookworm/
image: setup
	.venv/bin/osimage build

# The test suite (what CI runs)
test: setup
	scripts/run-tests
