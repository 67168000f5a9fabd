"""The console match that decides when a guest is up."""

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import libvirt_boot

# Recorded in CI: kernel messages printed after the prompt, on the same line.
PROMPT_THEN_KERNEL = (b'Debian GNU/Linux 12 parallel-0 ttyS0\r\n\r\n'
                      b'parallel-0 login: [   45.775595] powernow_k8: Power state transitions not supported\r\n')


@pytest.mark.parametrize('console', [
    PROMPT_THEN_KERNEL,
    b'Debian GNU/Linux 13 osimage ttyS0\r\n\r\nosimage login: ',
    b'osimage login:',
])
def test_login_prompt_is_seen(console):
    assert libvirt_boot.console_shows(console, libvirt_boot.LOGIN_PROMPT)


@pytest.mark.parametrize('console', [
    b'[  OK  ] Started systemd-logind.service - User Login Management.\r\n',
    b'[    1.0] Run /init as init process\r\n  with arguments: login:\r\n',
    b'',
])
def test_boot_messages_are_not_a_login_prompt(console):
    assert not libvirt_boot.console_shows(console, libvirt_boot.LOGIN_PROMPT)
