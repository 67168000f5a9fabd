"""Reading an image's package database: the host tool's argv and what is kept of its output."""

from ansible_collections.osimage.builder.plugins.module_utils import package_db


def fake_run(out, seen):
    def run(argv, what=None):
        seen.append(argv)
        return 0, out, ''
    return run


def test_rpm_packages_reads_the_trees_database_and_leaves_out_keys():
    seen = []
    out = ('zlib\t1.2.11\t40.el9\tx86_64\ngpg-pubkey\t8483c65d\t5ccc5b19\t(none)\n'
           'bash\t5.1.8\t9.el9\tx86_64\nglibc\t2.34\t100.el9\ti686\nglibc\t2.34\t100.el9\tx86_64\n')
    packages = package_db.rpm_packages('/tree', '/var/lib/rpm', fake_run(out, seen))
    assert seen == [['rpm', '--root', '/tree', '--dbpath', '/var/lib/rpm', '-qa', '--qf', package_db.RPM_FORMAT]]
    assert packages == [{'name': 'bash', 'version': '5.1.8', 'release': '9.el9', 'arch': 'x86_64'},
                        {'name': 'glibc', 'version': '2.34', 'release': '100.el9', 'arch': 'i686'},
                        {'name': 'glibc', 'version': '2.34', 'release': '100.el9', 'arch': 'x86_64'},
                        {'name': 'zlib', 'version': '1.2.11', 'release': '40.el9', 'arch': 'x86_64'}]


def test_dpkg_packages_keeps_only_installed_ones():
    seen = []
    out = 'ii \tzlib1g\t1:1.2.13\tamd64\nrc \told\t1.0\tamd64\nii \tbash\t5.2.15-2\tamd64\n'
    packages = package_db.dpkg_packages('/tree', fake_run(out, seen))
    assert seen[0][:2] == ['dpkg-query', '--admindir=/tree/var/lib/dpkg']
    assert packages == [{'name': 'bash', 'version': '5.2.15-2', 'arch': 'amd64'},
                        {'name': 'zlib1g', 'version': '1:1.2.13', 'arch': 'amd64'}]
