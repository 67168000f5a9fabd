# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reads the output of a failed apt, mmdebstrap or debootstrap download and says, in one line, which mirror
failed, what happened and what to do."""

from __future__ import annotations

import re

# apt: "E: Failed to fetch URL  REASON"; its progress lines "Err:N ..." and, for each retry, "Ign:N ...".
# (python-apt, as in ansible.builtin.apt's cache update, joins them on one line: "W:Failed to fetch URL  REASON, E:...")
APT_FAILED = re.compile(r'Failed to fetch (?P<url>[a-z+]+://\S+)\s+(?P<reason>.*?)(?:, [EW]:.*)?$', re.M)
APT_ERR_ID = re.compile(r'^Err:(\d+) ', re.M)
# debootstrap: its own wording for a download that failed or stayed corrupt.
DEBOOTSTRAP_FAILED = re.compile(
    r"^[EW]: (?:(?P<reason>Couldn't download|Failed getting release file|Failed getting release signature file)"
    r"(?: package \S+ \(ver \S+ arch \S+\) at)? (?P<url>\S+)"
    r"|(?P<corrupt_url>\S+) was corrupt)\s*$", re.M)
DEBOOTSTRAP_RETRY = re.compile(r'^W: Retrying failed download of (\S+)', re.M)
# What a reason means, first match wins.
MEANINGS = (
    ('Hash Sum mismatch', 'served a corrupted file'),
    ('was corrupt', 'served a corrupted file'),
    ('unexpected size', 'served a file of the wrong size'),
    ('Not Found', 'does not have the file'),
    ('Could not connect', 'could not be reached'),
    ('Could not resolve', 'could not be reached'),
    ('Temporary failure resolving', 'could not be reached'),
    ('timed out', 'stopped answering'),
    ('Undetermined Error', 'broke off the download'),
    ('Connection failed', 'broke off the download'),
    ('Error reading from server', 'broke off the download'),
    ("Couldn't download", 'broke off the download'),
    ('Failed getting release', 'broke off the download'),
)
MIRROR_ROOT = re.compile(r'^(?P<mirror>[a-z+]+://[^/\s]+(?:/.*?)?/)(?P<rest>(?:pool|dists)/\S*)$')


def mirror_of(url):
    """(mirror, path in it): the mirror is the URL up to its pool/ or dists/ directory, or scheme://host[:port]/."""
    match = MIRROR_ROOT.match(url)
    if match:
        return match['mirror'], match['rest']
    scheme, rest = url.split('://', 1) if '://' in url else (url, '')
    host, path = rest.split('/', 1) if '/' in rest else (rest, '')
    return '%s://%s/' % (scheme, host), path


def _retries(text, url):
    """How many times apt (the most of any file that failed in the end) or debootstrap retried ``url``."""
    failed = set(APT_ERR_ID.findall(text))
    ignored = [n for n in re.findall(r'^Ign:(\d+) ', text, re.M) if n in failed]
    most = max((ignored.count(n) for n in set(ignored)), default=0)
    return most or DEBOOTSTRAP_RETRY.findall(text).count(url)


def explain(text):
    """One line for the failed download in ``text`` (a tool's output), or None when ``text`` shows none."""
    match = APT_FAILED.search(text) or DEBOOTSTRAP_FAILED.search(text)
    if not match:
        return None
    url = match['url'] or match.groupdict().get('corrupt_url')
    reason = (match.groupdict().get('reason') or 'was corrupt').strip()
    reason = re.sub(r'\s*\[IP: [^\]]*\]', '', reason).strip()
    meaning = next((said for key, said in MEANINGS if key in reason), 'failed')
    mirror, path = mirror_of(url)
    retries = _retries(text, url)
    return ('the mirror %s %s (%s) fetching %s%s; check that the mirror is up and complete (or use another), then '
            'build again' % (mirror, meaning, reason, path or url,
                             ' after %d retr%s' % (retries, 'y' if retries == 1 else 'ies') if retries else ''))
