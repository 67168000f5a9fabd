"""The osimage command: validate a request, build it with the collection's playbook, prove it boots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid

from ansible.cli import CLI
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecretsContext
import yaml
from rich.console import Console
from rich.table import Table

from osimage import collection, playbook

EXIT_BAD_INPUT = 2


def load_request(path, vault_password_file=None):
    """The request mapping in a YAML file, with Ansible Vault values decrypted; {} (the default) without one."""
    if path is None:
        return {}
    loader = DataLoader()
    vault_password_file = vault_password_file or os.environ.get('ANSIBLE_VAULT_PASSWORD_FILE')
    if vault_password_file:
        secrets = CLI.setup_vault_secrets(loader, vault_ids=[], vault_password_files=[vault_password_file],
                                          ask_vault_pass=False, auto_prompt=False)
        loader.set_vault_secrets(secrets)
        if VaultSecretsContext.current(optional=True) is None:
            VaultSecretsContext.initialize(VaultSecretsContext(secrets))
    if not os.path.isfile(path):
        raise SystemExit(_bad('cannot read request %s: no such file' % path))
    req_mod = collection.module_utils('request')

    def load(name):
        try:
            return req_mod.plain(loader.load_from_file(name))
        except ReferenceError:
            raise SystemExit(_bad('request %s has Ansible Vault values: give --vault-password-file or set '
                                  'ANSIBLE_VAULT_PASSWORD_FILE' % name))
        except AnsibleError as exc:
            first = str(exc).strip().splitlines()[0]
            raise SystemExit(_bad('request %s is not valid YAML (or cannot be decrypted): %s' % (name, first)))

    try:
        return collection.module_utils('extends').load_request_file(path, load)
    except req_mod.RequestError as exc:
        raise SystemExit(_invalid(exc))


def _bad(message):
    print('error: %s' % message, file=sys.stderr)
    return EXIT_BAD_INPUT


def _invalid(exc):
    return _bad('the request is not valid:\n  ' + '\n  '.join('%s: %s' % err for err in exc.errors))


def checked_request(args, build_id=None):
    """Load, apply the command-line overrides and resolve (as build ``build_id``); exit 2 naming every bad key."""
    req_mod = collection.module_utils('request')
    request = load_request(args.request, getattr(args, 'vault_password_file', None))
    if isinstance(request, dict):
        if args.output:
            request['output_dir'] = os.path.abspath(args.output)
        if getattr(args, 'no_boot_test', False):
            request.setdefault('boot_test', {})['enabled'] = False
    try:
        resolved = req_mod.resolve(request, build_id=build_id)
    except req_mod.RequestError as exc:
        raise SystemExit(_invalid(exc))
    return req_mod, request, resolved


def cmd_validate(args, console):
    req_mod, _request, resolved = checked_request(args)
    console.print_json(json.dumps(req_mod.redact(resolved)))
    return 0


def cmd_show(args, console):
    """The request as it will be built: extends merged, presets expanded, defaults filled, secrets redacted;
    then, as YAML comments, what the distro table gives it."""
    req_mod, _request, resolved = checked_request(args)
    shown = req_mod.request_view(req_mod.redact(resolved))
    console.out(yaml.safe_dump(shown, sort_keys=False, default_flow_style=False).rstrip())
    os_facts = resolved['os']
    given = {'family': os_facts['family'], 'version': os_facts['version'], 'bootstrap': resolved['bootstrap']['tool'],
             'kernel': os_facts['packages']['kernel'], 'bootloader': resolved['disk']['packages'],
             'network': os_facts['packages']['network'], 'initramfs': os_facts['initramfs'],
             'ssh_service': os_facts['ssh_service']}
    text = yaml.safe_dump({'distro table': given}, sort_keys=False, default_flow_style=None).rstrip()
    console.out('\n'.join('# ' + line for line in text.splitlines()))
    return 0


def cmd_distros(args, console):
    """Every distribution and release osimage builds, with its family, mirror and how it is proven here."""
    rows = collection.module_utils('distros').catalogue()
    if args.json:
        console.out(json.dumps(rows, indent=2))
        return 0
    table = Table(title='distributions (request keys distro: and release:)')
    for col in ('distro', 'release', 'version', 'family', 'arches', 'bootstrap', 'default mirror', 'proof'):
        table.add_column(col, overflow='fold')
    for row in rows:
        table.add_row(row['distro'], row['release'], row['version'], row['family'], ', '.join(row['arches']),
                      row['bootstrap'], row['mirror'] or '(none: set mirror)', row['proof'])
    console.print(table)
    console.print('proof: boot = built, booted and verified by the test suite here; local-repo = bootstrapped '
                  'from repositories the tests make (its mirror is out of reach here); unproven = no test yet')
    return 0


def per_family(names, sep):
    """{family or arch: [name, ...]} as one line when all have the same, else one 'key: names' line each."""
    lists = list(names.values())
    if all(items == lists[0] for items in lists):
        return sep.join(lists[0]) or '-'
    return '\n'.join('%s: %s' % (family, sep.join(items) or '-') for family, items in names.items())


def cmd_presets(_args, console):
    presets = collection.module_utils('request').load_presets()
    table = Table(title='presets (request key preset: NAME or [NAME, ...])')
    for col in ('name', 'description', 'packages', 'services'):
        table.add_column(col, overflow='fold')
    for name, preset in presets.items():
        table.add_row(name, preset['description'], per_family(preset['packages'], ' '),
                      per_family(preset['services'], ' '))
    console.print(table)
    return 0


def cmd_build(args, console):
    # The playbook resolves the request again with this build id: the same build, UUIDs included.
    build_id = uuid.uuid4().hex[:12]
    req_mod, request, resolved = checked_request(args, build_id)
    privileges = collection.module_utils('host_privileges')
    missing = privileges.problems(resolved['boot_test']['enabled'], resolved['boot_test']['accel'])
    if missing:
        raise SystemExit(_bad(privileges.message(missing)))
    try:
        collection.module_utils('preflight').check(resolved)
    except req_mod.RequestError as exc:
        raise SystemExit(_bad('this host cannot build the request:\n  ' + '\n  '.join('%s: %s' % e for e in exc.errors)))
    output_dir = resolved['output_dir']
    os.makedirs(output_dir, exist_ok=True)
    extravars = dict(req_mod.hash_secrets(request), output_dir=output_dir, osimage_build_id=build_id)
    console.print('building [bold]%s[/] (%s %s) into %s'
                  % (resolved['name'], resolved['distro'], resolved['release'], output_dir))
    try:
        ok, progress = playbook.run('build.yml', extravars, console, log_path=os.path.join(output_dir, 'build.log'))
    finally:
        released = collection.module_utils('leftovers').release(build_id, resolved['work_dir'])
    if released:
        console.print('[yellow]released what the build left behind:[/] ' + ', '.join(released))
    if not ok:
        console.print('[bold red]build failed[/] in stage %s: %s' % (progress.stage, progress.failure))
        console.print('full log: %s' % os.path.join(output_dir, 'build.log'))
        return 1
    summarize(console, output_dir, progress.elapsed())
    return 0


def cmd_boot_test(args, console):
    image = os.path.abspath(args.image)
    if not os.path.isfile(image):
        raise SystemExit(_bad('image %s does not exist' % image))
    output_dir = os.path.abspath(args.output or os.path.dirname(image))
    verify = os.path.abspath(args.verify) if args.verify else ''
    if verify and not os.path.isfile(verify):
        raise SystemExit(_bad('verify tasks file %s does not exist' % verify))
    # The build that made the image, from the manifest beside it: its request (secrets redacted) is checked,
    # and with --request, its id gives the file systems' UUIDs. An image without one is checked as any image.
    built = build_manifest(image)
    request = built.get('request', {})
    if args.request:
        build_id = built.get('build_id')
        if not build_id:
            raise SystemExit(_bad('no manifest.json beside %s names it, so its build (and the UUIDs its file systems '
                                  'have) is unknown: boot-test it without --request, or keep the manifest with it'
                                  % image))
        req_mod, _raw, resolved = checked_request(args, build_id)
        request = req_mod.redact(resolved)
    os.makedirs(output_dir, exist_ok=True)
    name = 'osimage-boot-%s' % uuid.uuid4().hex[:8]
    arch = image_arch(args, image, request)
    extravars = {'boot_test_arch': arch, 'boot_test_firmware': next(iter(arches()[arch]['boot']['firmware'])),
                 'boot_test_image': image, 'boot_test_output_dir': output_dir, 'boot_test_accel': args.accel,
                 'boot_test_timeout': args.timeout, 'boot_test_name': name, 'boot_test_request': request,
                 'boot_test_verify': not args.no_verify, 'boot_test_verify_tasks': verify}
    try:
        ok, progress = playbook.run('boot_test.yml', extravars, console)
    finally:
        # The guest, its run directory and the owner record the boot_test module made for it.
        collection.module_utils('leftovers').release(name[len('osimage-'):], '/var/tmp/osimage')
    report = _read_json(os.path.join(output_dir, 'boot-report.json'))
    if not ok:
        console.print('[bold red]boot test failed[/]: %s' % (progress.failure or report.get('message')))
        return 1
    checks = report.get('checks', [])
    console.print('[green]passed[/]: login after %s s, SSH after %s s under %s; %d checks passed, %d skipped; '
                  'report %s' % (report.get('seconds_to_login'), report.get('seconds_to_ssh', '-'), report.get('accel'),
                                 len([c for c in checks if c['outcome'] == 'passed']),
                                 len([c for c in checks if c['outcome'] == 'skipped']),
                                 os.path.join(output_dir, 'boot-report.json')))
    return 0


def cmd_clean(args, console):
    released = collection.module_utils('leftovers').release_stale(os.path.abspath(args.work_dir))
    for build_id, what in sorted(released.items()):
        console.print('build %s: released %s' % (build_id, ', '.join(what)))
    console.print('nothing to release' if not released else 'released what %d killed build(s) left' % len(released))
    return 0


def cmd_platforms(_args, console):
    """List the platform profiles (data/platforms/*.yml of the collection) and what each one sets."""
    profiles = collection.module_utils('platforms')
    table = Table(title='platform profiles (request key platform:)')
    for col in ('platform', 'arches', 'formats', 'packages added', 'kernel arguments added', 'services enabled',
                'what for'):
        table.add_column(col)
    for name in profiles.names():
        p = profiles.load(name)
        table.add_row(name, ', '.join(p['arches']), ', '.join(p['formats']), per_family(p['packages'], ', '),
                      per_family(p['kernel_cmdline'], ' '), per_family(p['services'], ', '), p['description'])
    console.print(table)
    return 0


def cmd_survey(_args, console):
    """The AWX survey spec made from the request schema (JSON, for a job template's survey_spec)."""
    console.out(json.dumps(collection.module_utils('survey').survey_spec(), indent=2))
    return 0


def build_manifest(image):
    """The manifest beside ``image`` when it lists that image (osimage built it there); {} otherwise."""
    manifest = _read_json(os.path.join(os.path.dirname(image), 'manifest.json'))
    names = {os.path.basename(i.get('dest', '')) for i in manifest.get('images', [])}
    return manifest if os.path.basename(image) in names else {}


def arches():
    return collection.module_utils('distros').ARCHES


def image_arch(args, image, request):
    """The image's architecture: --arch, else the request's, else the manifest's beside it, else amd64."""
    manifest = build_manifest(image)
    return args.arch or request.get('arch') or manifest.get('distro', {}).get('arch') or 'amd64'


def _read_json(path):
    try:
        with open(path, encoding='utf-8') as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def summarize(console, output_dir, seconds):
    manifest = _read_json(os.path.join(output_dir, 'manifest.json'))
    report = _read_json(os.path.join(output_dir, 'boot-report.json'))
    table = Table(title='%s built in %.0f s' % (manifest.get('name', '?'), seconds))
    for col in ('file', 'format', 'MiB', 'sha256'):
        table.add_column(col)
    for image in manifest.get('images', []):
        table.add_row(os.path.basename(image['dest']), image['format'], '%.1f' % (image['bytes'] / 2 ** 20),
                      image['sha256'][:16])
    console.print(table)
    console.print('stages: ' + ', '.join('%(name)s %(seconds).1fs' % s for s in manifest.get('stages', [])))
    console.print('packages: %d, manifest: %s'
                  % (len(manifest.get('packages', [])), os.path.join(output_dir, 'manifest.json')))
    if report:
        console.print('boot test: [green]%s[/] (login after %s s, %s)'
                      % (report.get('outcome'), report.get('seconds_to_login'), report.get('accel')))


def parser():
    p = argparse.ArgumentParser(prog='osimage', description='Build bootable Linux disk images and prove they boot.')
    sub = p.add_subparsers(dest='command', required=True)
    build = sub.add_parser('build', help='build an image from a request (the default image without one)')
    build.add_argument('request', nargs='?', help='request YAML file')
    build.add_argument('-o', '--output', help='output directory (default: output/NAME)')
    build.add_argument('--no-boot-test', action='store_true', help='skip the boot test')
    build.add_argument('--vault-password-file', help='decrypts !vault values in the request')
    build.set_defaults(func=cmd_build)
    val = sub.add_parser('validate', help='validate a request and print it resolved (secrets redacted)')
    val.add_argument('request', nargs='?', help='request YAML file')
    val.add_argument('--vault-password-file', help='decrypts !vault values in the request')
    val.set_defaults(func=cmd_validate, output=None)
    show = sub.add_parser('show', help='print the request as it will be built (extends merged, presets expanded, '
                                       'defaults filled, secrets redacted) as YAML')
    show.add_argument('request', nargs='?', help='request YAML file')
    show.add_argument('--vault-password-file', help='decrypts !vault values in the request')
    show.set_defaults(func=cmd_show, output=None)
    presets = sub.add_parser('presets', help='list the package presets a request can name')
    presets.set_defaults(func=cmd_presets)
    boot = sub.add_parser('boot-test', help='boot any disk image and wait for its login prompt')
    boot.add_argument('image', help='disk image (raw, qcow2, vmdk, ...)')
    boot.add_argument('-o', '--output', help='directory for boot-report.json and console.log (default: beside the image)')
    boot.add_argument('--timeout', type=int, default=300, help='seconds to wait for the login prompt')
    boot.add_argument('--accel', choices=['auto', 'kvm', 'tcg'], default='auto')
    boot.add_argument('--arch', choices=sorted(arches()),
                      help="the image's architecture (default: its request's or manifest's, else amd64)")
    boot.add_argument('--request', help='the request the image was built from: its keys are checked too')
    boot.add_argument('--verify', help='a tasks file of your own checks, run inside the guest')
    boot.add_argument('--no-verify', action='store_true', help='only wait for the login prompt')
    boot.set_defaults(func=cmd_boot_test, output_dir=None)
    dist = sub.add_parser('distros', help='list the distributions and releases a request can name')
    dist.add_argument('--json', action='store_true', help='print a JSON list of objects')
    dist.set_defaults(func=cmd_distros)
    plat = sub.add_parser('platforms', help='list the platform profiles a request can name with platform:')
    plat.set_defaults(func=cmd_platforms)
    survey = sub.add_parser('survey', help='print the AWX survey spec made from the request schema (JSON)')
    survey.set_defaults(func=cmd_survey)
    clean = sub.add_parser('clean', help='release what killed builds left (mounts, chroot processes, VMs, files)')
    clean.add_argument('--work-dir', default='/var/tmp/osimage', help='the builds\' work_dir')
    clean.set_defaults(func=cmd_clean)
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    return args.func(args, Console(highlight=False, soft_wrap=True))


if __name__ == '__main__':
    sys.exit(main())
