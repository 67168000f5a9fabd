"""The location role's per-family mechanisms, run by Ansible on files in a scratch directory: each family's
resolver and time service (distros.py) is configured as that distribution documents, and a second run changes
nothing. The Debian mechanisms are also proven in a booted image (test_repositories.py)."""

import json
import os

import pytest

from ansible_collections.osimage.builder.plugins.module_utils import distros
from osimage_testlib import ROOT, playbook

pytestmark = pytest.mark.integration

PLAYBOOK = os.path.join(ROOT, 'tests/integration/.playbooks/location.yml')
DNS = ['192.0.2.53', '2001:db8::53']
NTP = ['ntp1.example.org', '192.0.2.123']
# chrony.conf as EL 9 ships it, in part: a pool, a DHCP source directory and a comment naming a server.
CHRONY_CONF = ('# Use public servers from the pool.ntp.org project.\npool 2.rocky.pool.ntp.org iburst\n'
               'sourcedir /run/chrony-dhcp\ndriftfile /var/lib/chrony/drift\n# server ntp.example.com\n')


def run_role(tmp_path, os_facts):
    """Run the role twice with the family's mechanisms; return the second run's recap line."""
    (tmp_path / 'chrony.conf').write_text(CHRONY_CONF)
    variables = {'location_dns': DNS, 'location_ntp': NTP, 'location_resolver': os_facts['resolver'],
                 'location_time_sync': os_facts['time_sync'],
                 'location_resolved_dir': str(tmp_path / 'resolved.conf.d'),
                 'location_timesyncd_dir': str(tmp_path / 'timesyncd.conf.d'),
                 'location_chrony_conf': str(tmp_path / 'chrony.conf'),
                 'location_networkmanager_dir': str(tmp_path), 'location_netconfig_file': str(tmp_path / 'config')}
    args = tmp_path / 'vars.json'
    args.write_text(json.dumps(variables))
    for attempt in ('first', 'second'):
        proc = playbook(PLAYBOOK, '-e', '@%s' % args)
        assert proc.returncode == 0, attempt + ' run: ' + proc.stdout[-3000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if line.startswith('localhost')][-1]


@pytest.mark.parametrize('distro,release', [('debian', 'bookworm'), ('rocky', '9'), ('opensuse-leap', '15.6')])
def test_each_family_configures_dns_and_ntp_its_own_way_and_again_changes_nothing(tmp_path, distro, release):
    os_facts = distros.resolve(distro, release, 'amd64', 'http://mirror.example/')
    recap = run_role(tmp_path, os_facts)
    assert 'changed=0' in recap, recap
    files = {p.name for p in tmp_path.rglob('*') if p.is_file()} - {'vars.json'}
    if os_facts['resolver'] == 'resolved':
        assert (tmp_path / 'resolved.conf.d/50-osimage-dns.conf').read_text() == '[Resolve]\nDNS=%s\n' % ' '.join(DNS)
        assert (tmp_path / 'timesyncd.conf.d/50-osimage-ntp.conf').read_text() == '[Time]\nNTP=%s\n' % ' '.join(NTP)
        assert (tmp_path / 'chrony.conf').read_text() == CHRONY_CONF
        assert files == {'50-osimage-dns.conf', '50-osimage-ntp.conf', 'chrony.conf'}
        return
    chrony = (tmp_path / 'chrony.conf').read_text().splitlines()
    assert [line for line in chrony if line.startswith(('pool', 'server'))] == ['server %s iburst' % s for s in NTP]
    assert '# pool 2.rocky.pool.ntp.org iburst' in chrony and 'sourcedir /run/chrony-dhcp' in chrony
    if os_facts['resolver'] == 'networkmanager':
        assert (tmp_path / '50-osimage-dns.conf').read_text() == '[global-dns-domain-*]\nservers=%s\n' % ','.join(DNS)
        assert files == {'50-osimage-dns.conf', 'chrony.conf'}
    else:
        assert (tmp_path / 'config').read_text() == 'NETCONFIG_DNS_STATIC_SERVERS="%s"\n' % ' '.join(DNS)
        assert files == {'config', 'chrony.conf'}
