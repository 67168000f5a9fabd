"""The exit codes of the osimage command and the result names its JSON summaries give them."""

EXIT_BUILD_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_BOOT_TEST_FAILED = 3
EXIT_USAGE = 4
EXIT_NO_COLLECTION = 5
EXIT_INTERRUPTED = 130

RESULTS = {0: 'ok', EXIT_BUILD_FAILED: 'build-failed', EXIT_BAD_INPUT: 'refused',
           EXIT_BOOT_TEST_FAILED: 'boot-test-failed', EXIT_INTERRUPTED: 'interrupted'}


def outcome(ok, progress):
    """The exit code of a playbook run: interrupted, its input refused by a module, failed in the boot test (stage
    prove), or failed."""
    if progress.interrupted:
        return EXIT_INTERRUPTED
    if ok:
        return 0
    if progress.refused:
        return EXIT_BAD_INPUT
    return EXIT_BOOT_TEST_FAILED if progress.stage == 'prove' else EXIT_BUILD_FAILED
