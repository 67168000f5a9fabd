"""The osimage command: validate a request, build it with the collection's playbook, prove it boots."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

from ansible.cli import CLI
from ansible.errors import AnsibleError
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultSecretsContext
import yaml
from rich.console import Console
from rich.table import Table

from osimage import boot as interactive, build_hosts, build_pool, builder_worker, collection, completion, playbook
from osimage.exit_codes import (EXIT_BAD_INPUT, EXIT_BOOT_TEST_FAILED, EXIT_BUILD_FAILED, EXIT_INTERRUPTED,
                                EXIT_NO_COLLECTION, EXIT_USAGE, RESULTS, outcome)
from osimage.pool_summary import summary_table
from osimage.remote_build import RemoteBuild

EXIT_CODES = f"""exit codes:
  0    success
  {EXIT_BUILD_FAILED}    the build failed (the stage and the failed task are named; build.log has the rest)
  {EXIT_BAD_INPUT}    a bad request or input, or a host that cannot build it: refused before any privileged step
       (or an image osimage retrofit cannot open safely, refused naming what it found)
  {EXIT_BOOT_TEST_FAILED}    the image was built but its boot test failed (boot-report.json says why)
  {EXIT_USAGE}    a usage error on the command line (unknown option, missing argument)
  {EXIT_NO_COLLECTION}    the osimage.builder collection is in none of Ansible's collections paths
  {EXIT_INTERRUPTED}  interrupted by SIGINT or SIGTERM (what the run took is released)
"""


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
    limits = collection.module_utils('request_limits')

    def load(name):
        try:
            text = limits.check_file(name, loader.get_text_file_contents)  # bounded before anything expands it
            return req_mod.plain(loader.load(text, file_name=name))
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


def checked_request(args, build_id=None, retrofit=None, uuid_seed=None):
    """Load, apply the command-line overrides and resolve (as build ``build_id``, its UUIDs from ``uuid_seed`` when
    given; with ``retrofit`` {}, as a retrofit of an image, whose keys are refused); exit 2 naming every bad key."""
    req_mod = collection.module_utils('request')
    request = load_request(args.request, getattr(args, 'vault_password_file', None))
    if isinstance(request, dict):
        if args.output:
            request['output_dir'] = os.path.abspath(args.output)
        if getattr(args, 'no_boot_test', False):
            request.setdefault('boot_test', {})['enabled'] = False
    try:
        resolved = req_mod.resolve(request, build_id=build_id, retrofit=retrofit, uuid_seed=uuid_seed)
    except req_mod.RequestError as exc:
        raise SystemExit(_invalid(exc))
    return req_mod, request, resolved


def emit(data, line=False):
    """Print ``data`` as JSON on stdout (what --json prints; progress and messages go to stderr then); ``line``:
    on one line, the last of the JSON lines a build or boot test prints after its stage events."""
    sys.stdout.write(json.dumps(data, indent=None if line else 2) + '\n')


def cmd_validate(args, _console):
    req_mod, _request, resolved = checked_request(args)
    emit(req_mod.redact(resolved))
    return 0


def cmd_show(args, console):
    """The request as it will be built: extends merged, presets expanded, defaults filled, secrets redacted;
    then, as YAML comments, what the distro table gives it."""
    req_mod, _request, resolved = checked_request(args)
    shown = req_mod.request_view(req_mod.redact(resolved))
    os_facts = resolved['os']
    given = {'family': os_facts['family'], 'version': os_facts['version'], 'bootstrap': resolved['bootstrap']['tool'],
             'kernel': os_facts['packages']['kernel'], 'bootloader': resolved['disk']['packages'],
             'network': os_facts['packages']['network'], 'initramfs': os_facts['initramfs'],
             'ssh_service': os_facts['ssh_service']}
    if args.json:
        emit({'request': shown, 'distro_table': given})
        return 0
    console.out(yaml.safe_dump(shown, sort_keys=False, default_flow_style=False).rstrip())
    text = yaml.safe_dump({'distro table': given}, sort_keys=False, default_flow_style=None).rstrip()
    console.out('\n'.join('# ' + line for line in text.splitlines()))
    return 0


def cmd_distros(args, console):
    """Every distribution and release osimage builds, with its family, mirror and how it is proven here."""
    rows = collection.module_utils('distros').catalogue()
    if args.json:
        emit(rows)
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


def cmd_presets(args, console):
    presets = collection.module_utils('request').load_presets()
    if args.json:
        emit([{'name': name, **preset} for name, preset in presets.items()])
        return 0
    table = Table(title='presets (request key preset: NAME or [NAME, ...])')
    for col in ('name', 'description', 'packages', 'services'):
        table.add_column(col, overflow='fold')
    for name, preset in presets.items():
        table.add_row(name, preset['description'], per_family(preset['packages'], ' '),
                      per_family(preset['services'], ' '))
    console.print(table)
    return 0


def cmd_build(args, console):
    if args.builder or args.builders:
        return cmd_build_remote(args, console)
    if len(args.request) > 1:
        return _usage('several requests build on build hosts: give --builders INVENTORY')
    args.request = args.request[0] if args.request else None
    # The playbook resolves the request again with this build id: the same build, UUIDs included.
    build_id = uuid.uuid4().hex[:12]
    req_mod, request, resolved = checked_request(args, build_id)
    stamps = collection.module_utils('build_stamp')
    if stamps.has_plain_passwords(request):
        # An unchanged password keeps the crypt hash of the output directory's build: the same request
        request = stamps.reuse_hashes(request, resolved['output_dir'])
        resolved = req_mod.resolve(request, build_id=build_id)
    if not args.force:
        status = stamps.check(resolved, stamps.fingerprint(resolved))
        if status['current']:
            return up_to_date(args, console, resolved['output_dir'])
    announce = 'building [bold]%s[/] (%s %s) into %s' % (resolved['name'], resolved['distro'], resolved['release'],
                                                         resolved['output_dir'])
    return run_build(args, console, 'build.yml', (req_mod, request, resolved), build_id, {}, announce)


def cmd_retrofit(args, console):
    image = os.path.abspath(args.image)
    if not os.path.isfile(image):
        raise SystemExit(_bad('image %s does not exist' % image))
    build_id = uuid.uuid4().hex[:12]
    checked = checked_request(args, build_id, retrofit={})
    announce = 'retrofitting [bold]%s[/] into %s (the image itself is only read)' % (image, checked[2]['output_dir'])
    return run_build(args, console, 'retrofit.yml', checked, build_id, {'osimage_retrofit_image': image}, announce)


def run_build(args, console, playbook_name, checked, build_id, extravars, announce):
    """Run ``playbook_name`` for a checked request as build ``build_id`` (``announce`` says what it does once the
    host is found able), release what it leaves, and report."""
    req_mod, request, resolved = checked
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
    extravars = dict(req_mod.hash_secrets(request), output_dir=output_dir, osimage_build_id=build_id, **extravars)
    if getattr(args, 'force', False):
        extravars['osimage_force'] = True
    console.print(announce)
    started = time.time()
    try:
        ok, progress = playbook.run(playbook_name, extravars, console, log_path=os.path.join(output_dir, 'build.log'),
                                    json_lines=args.json)
    finally:
        released = collection.module_utils('leftovers').release(build_id, resolved['work_dir'])
    if released:
        console.print('[yellow]released what the build left behind:[/] ' + ', '.join(released))
    code = outcome(ok, progress)
    if code:
        progress.failure = collection.module_utils('preflight').out_of_space(progress.failure, resolved,
                                                                             progress.failed_results)
        what = {EXIT_BOOT_TEST_FAILED: 'boot test failed', EXIT_BAD_INPUT: 'refused'}.get(code, 'build failed')
        console.print('[bold red]%s[/] in stage %s: %s' % (what, progress.stage, progress.failure))
        console.print('full log: %s' % os.path.join(output_dir, 'build.log'))
    else:
        summarize(console, output_dir, progress.elapsed())
    if args.json:
        emit(build_summary(code, progress, output_dir, started), line=True)
    return code


def up_to_date(args, console, output_dir):
    """Report an output directory that already holds this build (see build_stamp): nothing is redone."""
    started = time.monotonic()
    console.print('[bold green]up to date[/]: %s holds this build (same request, collection and bootstrap '
                  'cache entry; checksums match); --force rebuilds' % output_dir)
    summarize(console, output_dir, None)
    if args.json:
        manifest = os.path.join(output_dir, 'manifest.json')
        report = os.path.join(output_dir, 'boot-report.json')
        emit({'result': 'up-to-date', 'exit_code': 0, 'output_dir': output_dir,
              'artifacts': [{'path': i['dest'], 'format': i['format'], 'bytes': i['bytes'], 'sha256': i['sha256']}
                            for i in _read_json(manifest).get('images', [])],
              'manifest': manifest, 'boot_report': report if os.path.isfile(report) else None,
              'build_log': None, 'seconds': round(time.monotonic() - started, 1), 'failure': None}, line=True)
    return 0


def _usage(message):
    print('osimage build: error: %s' % message, file=sys.stderr)
    return EXIT_USAGE


def prepare_remote(args, path):
    """Validate one request here (exit 2 before anything leaves the machine): (build id, request, output_dir)."""
    build_id = uuid.uuid4().hex[:12]
    req_mod, request, resolved = checked_request(argparse.Namespace(**dict(vars(args), request=path)), build_id)
    return build_id, req_mod.hash_secrets(request), resolved['output_dir']


def cmd_build_remote(args, console):
    """Build on a build host (--builder) or over an inventory group of them (--builders), through SSH."""
    if args.builder and args.builders:
        return _usage('give --builder HOST or --builders INVENTORY, not both')
    paths = args.request or [None]
    if args.builder and len(paths) > 1:
        return _usage('several requests build over --builders INVENTORY, not one --builder')
    if args.output and len(paths) > 1:
        return _usage('-o names one build\'s output directory: with several requests, set output_dir in each')
    try:
        hosts = ([build_hosts.parse_spec(args.builder, args.ssh_option)] if args.builder else
                 build_hosts.from_inventory(args.builders, args.builder_group, args.ssh_option))
    except ValueError as exc:
        raise SystemExit(_bad(str(exc)))
    prepared = [prepare_remote(args, path) for path in paths]

    def start(build, host, prefix):
        build_id, request, output_dir = build[1]
        os.makedirs(output_dir, exist_ok=True)
        return RemoteBuild(host, request, build_id, output_dir, console, prefix, keep=args.keep_on_builder,
                           json_lines=args.json and len(paths) == 1)

    if len(paths) > 1:
        outcomes = build_pool.run_many(list(zip([p or '(default)' for p in paths], prepared)), hosts, start)
        console.print(summary_table(outcomes))
        if args.json:
            emit([{'request': o.request, 'builder': o.builder, 'result': RESULTS.get(o.code, 'refused'),
                   'exit_code': o.code, 'output_dir': o.output_dir, 'seconds': round(o.seconds, 1),
                   'failure': o.message or None} for o in outcomes])
        codes = {o.code for o in outcomes} - {0}
        return EXIT_INTERRUPTED if EXIT_INTERRUPTED in codes else max(codes, default=0)
    started = time.time()
    remote = start((paths[0], prepared[0]), hosts[0], '')
    cancel = playbook.Cancel()
    cancel.then = lambda: remote.cancel(cancel.signal)
    with cancel:
        code = remote.run()
    progress = remote.progress
    if code:
        what = {EXIT_BOOT_TEST_FAILED: 'boot test failed', EXIT_BAD_INPUT: 'refused',
                EXIT_INTERRUPTED: 'interrupted'}.get(code, 'build failed')
        where = ' in stage %s' % progress.stage if progress.stage else ''  # refused before the build started
        console.print('[bold red]%s[/]%s: %s' % (what, where, progress.failure))
    else:
        summarize(console, remote.output_dir, progress.elapsed())
        if args.keep_on_builder:
            console.print('left on builder %s in %s' % (remote.builder.name, remote.remote_dir))
    if args.json:
        emit(dict(build_summary(code, progress, remote.output_dir, started), builder=remote.builder.name,
                  builder_output_dir=remote.remote_dir if args.keep_on_builder else None), line=True)
    return code


def cmd_builder_probe(_args, _console):
    """On a builder: what it has for the build described on stdin (run by ``osimage build --builder``)."""
    emit(builder_worker.probe(json.load(sys.stdin)))
    return 0


def cmd_builder_worker(args, _console):
    """On a builder: run the job streamed on stdin as ansible-runner's worker (run by ``osimage build --builder``)."""
    return builder_worker.serve(args.build_id, args.work_dir)


def build_summary(code, progress, output_dir, started):
    """What ``osimage build --json`` prints last: the result, and the paths of what this build wrote (a file an
    earlier build left in the output directory is not named)."""
    def fresh(name):
        path = os.path.join(output_dir, name)
        return path if os.path.isfile(path) and os.path.getmtime(path) >= started else None

    manifest = fresh('manifest.json')
    images = _read_json(manifest).get('images', []) if manifest and not code else []
    return {'result': RESULTS[code], 'exit_code': code, 'output_dir': output_dir,
            'artifacts': [{'path': i['dest'], 'format': i['format'], 'bytes': i['bytes'], 'sha256': i['sha256']}
                          for i in images],
            'manifest': manifest if not code else None, 'boot_report': fresh('boot-report.json'),
            'build_log': fresh('build.log'), 'seconds': round(progress.elapsed(), 1),
            'failure': {'stage': progress.stage, 'message': progress.failure} if code else None}


def cmd_boot_test(args, console):
    image = os.path.abspath(args.image)
    if not os.path.isfile(image):
        raise SystemExit(_bad('image %s does not exist' % image))
    output_dir = os.path.abspath(args.output or os.path.dirname(image))
    verify = os.path.abspath(args.verify) if args.verify else ''
    if verify and not os.path.isfile(verify):
        raise SystemExit(_bad('verify tasks file %s does not exist' % verify))
    # The build that made the image, from the manifest beside it: its request (secrets redacted) is checked,
    # and with --request, its id (or the UUID seed it kept from a restored tree) gives the file systems' UUIDs.
    # An image without one is checked as any image.
    built = build_manifest(image)
    request = built.get('request', {})
    if args.request:
        build_id = built.get('build_id')
        if not build_id:
            raise SystemExit(_bad('no manifest.json beside %s names it, so its build (and the UUIDs its file systems '
                                  'have) is unknown: boot-test it without --request, or keep the manifest with it'
                                  % image))
        req_mod, _raw, resolved = checked_request(args, build_id, uuid_seed=request.get('disk', {}).get('uuid_seed'))
        request = req_mod.redact(resolved)
    os.makedirs(output_dir, exist_ok=True)
    name = 'osimage-boot-%s' % uuid.uuid4().hex[:8]
    arch = image_arch(args, image, request)
    extravars = {'boot_test_arch': arch, 'boot_test_firmware': next(iter(arches()[arch]['boot']['firmware'])),
                 'boot_test_image': image, 'boot_test_output_dir': output_dir, 'boot_test_accel': args.accel,
                 'boot_test_timeout': args.timeout, 'boot_test_name': name, 'boot_test_request': request,
                 'boot_test_verify': not args.no_verify, 'boot_test_verify_tasks': verify}
    started = time.time()
    try:
        ok, progress = playbook.run('boot_test.yml', extravars, console, json_lines=args.json)
    finally:
        # The guest, its run directory and the owner record the boot_test module made for it.
        collection.module_utils('leftovers').release(name[len('osimage-'):], '/var/tmp/osimage')
    report_path = os.path.join(output_dir, 'boot-report.json')
    report = _read_json(report_path) if os.path.isfile(report_path) and os.path.getmtime(report_path) >= started else {}
    code = EXIT_INTERRUPTED if progress.interrupted else 0 if ok else EXIT_BOOT_TEST_FAILED
    checks = report.get('checks', [])
    counts = {kind: len([c for c in checks if c['outcome'] == kind]) for kind in ('passed', 'failed', 'skipped')}
    if code:
        console.print('[bold red]boot test failed[/]: %s' % (progress.failure or report.get('message')))
    else:
        console.print('[green]passed[/]: login after %s s, SSH after %s s under %s; %d checks passed, %d skipped; '
                      'report %s' % (report.get('seconds_to_login'), report.get('seconds_to_ssh', '-'),
                                     report.get('accel'), counts['passed'], counts['skipped'], report_path))
    if args.json:
        emit({'result': RESULTS[code], 'exit_code': code,
              'image': image, 'boot_report': report_path if report else None, 'outcome': report.get('outcome'),
              'seconds_to_login': report.get('seconds_to_login'), 'seconds_to_ssh': report.get('seconds_to_ssh'),
              'accel': report.get('accel'), 'checks': counts, 'failure': progress.failure if code else None}, line=True)
    return code


def cmd_boot(args, _console):
    """Boot an image on a throwaway overlay with its serial console attached, or a root shell over SSH."""
    image = os.path.abspath(args.image)
    if not os.path.isfile(image):
        raise SystemExit(_bad('image %s does not exist' % image))
    if args.command and not args.ssh:
        raise SystemExit(_bad('a command runs over SSH: give --ssh with it'))
    arch = image_arch(args, image, build_manifest(image).get('request', {}))
    firmware = args.firmware or next(iter(arches()[arch]['boot']['firmware']))
    if firmware not in arches()[arch]['boot']['firmware']:
        raise SystemExit(_bad('--firmware %s: %s boots with %s'
                              % (firmware, arch, ', '.join(arches()[arch]['boot']['firmware']))))
    libvirt_boot = collection.module_utils('libvirt_boot')
    try:
        return interactive.run(image, arch, firmware, args.accel, args.ssh, [args.command] if args.command else [],
                               args.timeout)
    except (libvirt_boot.BootError, TimeoutError) as exc:
        interactive.say('error: %s' % exc)
        return EXIT_BOOT_TEST_FAILED


def cmd_clean(args, console):
    leftovers = collection.module_utils('leftovers')
    released = leftovers.release_stale(os.path.abspath(args.work_dir))
    cache = leftovers.release_cache(os.path.abspath(args.cache_dir))
    temp_dirs = leftovers.release_temp_dirs()
    if args.json:
        emit({'released': dict(sorted(released.items())), 'cache': cache, 'temp_dirs': temp_dirs})
        return 0
    for build_id, what in sorted(released.items()):
        console.print('build %s: released %s' % (build_id, ', '.join(what)))
    for what in cache + temp_dirs:
        console.print('released %s' % what)
    console.print('nothing to release' if not (released or cache or temp_dirs) else
                  'released what %d killed build(s) left, %d cache and %d temporary leftover(s)'
                  % (len(released), len(cache), len(temp_dirs)))
    return 0


def cmd_platforms(args, console):
    """List the platform profiles (data/platforms/*.yml of the collection) and what each one sets."""
    profiles = collection.module_utils('platforms')
    if args.json:
        emit([{'name': name, **profiles.load(name)} for name in profiles.names()])
        return 0
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


def cmd_completion(args, _console):
    sys.stdout.write(completion.SCRIPTS[args.shell](parser()))
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


class Arches:
    """The architectures, as argparse choices read only when used (--help works without the collection)."""

    def __contains__(self, value):
        return value in arches()

    def __iter__(self):
        return iter(sorted(arches()))


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
    title = '%s built in %.0f s' % (manifest.get('name', '?'), seconds) if seconds is not None else \
        '%s (up to date)' % manifest.get('name', '?')
    table = Table(title=title)
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


def versions():
    """The driver's, the collection's and ansible-core's versions, and where the driver and the collection are."""
    from ansible.release import __version__ as ansible_core  # pylint: disable=import-outside-toplevel
    from osimage import __version__  # pylint: disable=import-outside-toplevel
    found = collection.locate()
    return {'osimage': __version__, 'driver': os.path.dirname(os.path.abspath(__file__)),
            'osimage.builder': found.version, 'collection': os.path.realpath(found.root),
            'collection_source': 'checkout' if found.checkout else 'installed', 'ansible-core': ansible_core}


class Version(argparse.Action):
    """--version: the driver, the collection (and where Ansible found it) and ansible-core."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, p, namespace, values, option_string=None):
        v = versions()
        sys.stdout.write('osimage %(osimage)s (driver %(driver)s)\n'
                         'osimage.builder %(osimage.builder)s (collection %(collection)s, %(collection_source)s)\n'
                         'ansible-core %(ansible-core)s\n' % v)
        p.exit(0)


class Parser(argparse.ArgumentParser):
    """argparse with usage errors exiting EXIT_USAGE, not 2 (exit 2 is a bad request)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, '%s: error: %s\n' % (self.prog, message))


def _request_args(sub, json_help):
    sub.add_argument('request', nargs='?', help='request YAML file')
    sub.add_argument('--vault-password-file', help='decrypts !vault values in the request')
    sub.add_argument('--json', action='store_true', help=json_help)


def parser():
    p = Parser(prog='osimage', description='Build bootable Linux disk images and prove they boot.', epilog=EXIT_CODES,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--version', action=Version, help='print the versions of the driver, the collection (and where '
                                                     'it was found) and ansible-core')
    sub = p.add_subparsers(dest='command', required=True, metavar='COMMAND')
    build = sub.add_parser('build', help='build an image from a request (the default image without one)',
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    build.add_argument('request', nargs='*', help='request YAML file(s); several with --builders')
    build.add_argument('--vault-password-file', help='decrypts !vault values in the request')
    build.add_argument('--json', action='store_true', help='print progress on stderr, then a JSON summary (result, '
                                                           'artifacts, manifest, boot report)')
    build.add_argument('-o', '--output', help='output directory (default: output/NAME)').complete = 'directory'
    build.add_argument('--no-boot-test', action='store_true', help='skip the boot test')
    build.add_argument('--force', action='store_true',
                       help='build again even when the output directory is up to date (holds this very build)')
    remote = build.add_argument_group('build hosts (see "Scaling out" in the README)')
    remote.add_argument('--builder', metavar='[USER@]HOST[:PORT]',
                        help='build on this host over SSH (prepared by playbooks/builder_setup.yml)')
    remote.add_argument('--builders', metavar='INVENTORY', help='build the requests over the hosts of an Ansible '
                                                                'inventory group, osimage_builder_limit builds each')
    remote.add_argument('--builder-group', default=build_hosts.DEFAULT_GROUP,
                        help='the inventory group of build hosts (default: %(default)s)')
    remote.add_argument('--keep-on-builder', action='store_true',
                        help='leave the images on the builder (the manifest names where) instead of copying them')
    remote.add_argument('--ssh-option', action='append', default=[], metavar='OPTION',
                        help='an ssh -o option for the builders (repeatable), e.g. IdentityFile=~/.ssh/builder')
    build.set_defaults(func=cmd_build)
    retro = sub.add_parser('retrofit', help='apply a request to a disk image osimage did not build (users, packages, '
                                            'files, services, hygiene), writing a new image; the input is only read',
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    retro.add_argument('image', help='the disk image to retrofit (raw, qcow2, vmdk, vhd, vhdx, vdi)')
    _request_args(retro, 'print progress on stderr, then a JSON summary (result, artifacts, manifest, boot report)')
    retro.add_argument('-o', '--output', required=True, help='output directory').complete = 'directory'
    retro.add_argument('--no-boot-test', action='store_true', help='skip the boot test')
    retro.set_defaults(func=cmd_retrofit)
    val = sub.add_parser('validate', help='validate a request and print it resolved (secrets redacted) as JSON')
    _request_args(val, 'print JSON (what validate always prints)')
    val.set_defaults(func=cmd_validate, output=None)
    show = sub.add_parser('show', help='print the request as it will be built (extends merged, presets expanded, '
                                       'defaults filled, secrets redacted) as YAML')
    _request_args(show, 'print {"request": ..., "distro_table": ...} as JSON')
    show.set_defaults(func=cmd_show, output=None)
    presets = sub.add_parser('presets', help='list the package presets a request can name')
    presets.add_argument('--json', action='store_true', help='print a JSON list of objects')
    presets.set_defaults(func=cmd_presets)
    boot = sub.add_parser('boot-test', help='boot any disk image and wait for its login prompt', epilog=EXIT_CODES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    boot.add_argument('image', help='disk image (raw, qcow2, vmdk, ...)')
    boot.add_argument('-o', '--output',
                      help='directory for boot-report.json and console.log (default: beside the image)'
                      ).complete = 'directory'
    boot.add_argument('--timeout', type=int, default=300, help='seconds to wait for the login prompt')
    boot.add_argument('--accel', choices=['auto', 'kvm', 'tcg'], default='auto')
    boot.add_argument('--arch', choices=Arches(), metavar='ARCH',
                      help="the image's architecture (default: its request's or manifest's, else amd64)")
    boot.add_argument('--request', help='the request the image was built from: its keys are checked too')
    boot.add_argument('--verify', help='a tasks file of your own checks, run inside the guest')
    boot.add_argument('--no-verify', action='store_true', help='only wait for the login prompt')
    boot.add_argument('--json', action='store_true', help='print progress on stderr, then a JSON summary')
    boot.set_defaults(func=cmd_boot_test, output_dir=None)
    run = sub.add_parser('boot', help='boot an image on a throwaway overlay and attach its serial console (or, with '
                                      '--ssh, a root shell); released on exit', epilog=EXIT_CODES,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument('image', help='disk image (raw, qcow2, vmdk, ova, ...)')
    run.add_argument('--ssh', action='store_true', help="a root shell over SSH with a throwaway key (systemd >= 252 "
                                                        "in the image), instead of the serial console")
    run.add_argument('-c', '--command', help="with --ssh: run this command (the guest's shell reads it) instead of "
                                             'an interactive shell; its exit code is osimage\'s')
    run.add_argument('--accel', choices=['auto', 'kvm', 'tcg'], default='auto')
    run.add_argument('--arch', choices=Arches(), metavar='ARCH',
                     help="the image's architecture (default: its manifest's, else amd64)")
    run.add_argument('--firmware', help="bios, uefi or uefi_secure (default: the architecture's first)")
    run.add_argument('--timeout', type=int, default=300, help='with --ssh: seconds to wait for SSH')
    run.set_defaults(func=cmd_boot, request=None)
    dist = sub.add_parser('distros', help='list the distributions and releases a request can name')
    dist.add_argument('--json', action='store_true', help='print a JSON list of objects')
    dist.set_defaults(func=cmd_distros)
    plat = sub.add_parser('platforms', help='list the platform profiles a request can name with platform:')
    plat.add_argument('--json', action='store_true', help='print a JSON list of objects')
    plat.set_defaults(func=cmd_platforms)
    survey = sub.add_parser('survey', help='print the AWX survey spec made from the request schema (JSON)')
    survey.set_defaults(func=cmd_survey)
    clean = sub.add_parser('clean', help='release what killed builds left (mounts, chroot processes, VMs, files)')
    clean.add_argument('--work-dir', default='/var/tmp/osimage', help='the builds\' work_dir').complete = 'directory'
    clean.add_argument('--cache-dir', default='/var/cache/osimage',
                       help='the builds\' cache_dir: its half-made entries whose lock is free and temporary files of '
                            'gone processes').complete = 'directory'
    clean.add_argument('--json', action='store_true',
                       help='print {"released": {BUILD_ID: [...]}, "cache": [...], "temp_dirs": [...]} as JSON')
    clean.set_defaults(func=cmd_clean)
    # Internal: run over SSH by build --builder, so made without a help (neither listed nor completed)
    probe = sub.add_parser('builder-probe', description='what this builder has for a build')
    probe.set_defaults(func=cmd_builder_probe)
    worker = sub.add_parser('builder-worker', description='run a streamed build job here')
    worker.add_argument('--build-id', required=True)
    worker.add_argument('--work-dir', required=True)
    worker.set_defaults(func=cmd_builder_worker)
    comp = sub.add_parser('completion', help='print a shell completion script: osimage completion bash > '
                                             '/etc/bash_completion.d/osimage')
    comp.add_argument('shell', choices=sorted(completion.SCRIPTS))
    comp.set_defaults(func=cmd_completion)
    return p


def main(argv=None):
    try:
        args = parser().parse_args(argv)
        return args.func(args, Console(highlight=False, soft_wrap=True, stderr=getattr(args, 'json', False)))
    except collection.NotFound as exc:
        print('error: %s' % exc, file=sys.stderr)
        return EXIT_NO_COLLECTION
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == '__main__':
    sys.exit(main())
