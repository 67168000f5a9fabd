# -*- coding: utf-8 -*-
# Copyright: osimage developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The index files of package repositories (apt's Release or InRelease, rpm-md's repomd.xml) as a build reads
them: fetched through the build's proxy, several at once, and whether one is past its expiry date. Preflight
probes the mirror's and the request's repositories with them; build_stamp fingerprints the repositories'."""

from __future__ import annotations

import datetime
import email.utils
import re
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.osimage.builder.plugins.module_utils import distros

# Bytes of an index read when only its header fields matter (apt's Valid-Until is among its first lines).
HEADER = 8192
# Indexes fetched at once.
PARALLEL = 8


def fetch(url, proxy=None, timeout=15, limit=None):
    """The bytes at ``url`` (file://, http:// or https://; through ``proxy`` when given, else the environment's),
    only the first ``limit`` when given. Raises OSError or ValueError when it cannot be read."""
    if url.startswith('file://'):
        with open(url[len('file://'):], 'rb') as f:
            return f.read(limit or -1)
    headers = {'User-Agent': 'osimage'}
    if limit:
        headers['Range'] = 'bytes=0-%d' % (limit - 1)
    proxies = {'http': proxy, 'https': proxy} if proxy else None
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(proxies))
    with opener.open(urllib.request.Request(url, headers=headers), timeout=timeout) as response:
        return response.read(limit or -1)


def first(urls, proxy=None, timeout=15, limit=None):
    """(url, data, problem) of the first of ``urls`` that can be read (problem None); when none can, the first
    URL, None and why it could not be read."""
    problem = None
    for url in urls:
        try:
            return url, fetch(url, proxy, timeout, limit), None
        except (OSError, ValueError) as exc:
            problem = problem or str(getattr(exc, 'reason', None) or getattr(exc, 'strerror', None) or exc)
    return urls[0], None, problem


def fetch_all(alternatives, proxy=None, timeout=15, limit=None):
    """first() of each list of URLs in ``alternatives``, in order, fetched at once."""
    if not alternatives:
        return []
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(alternatives))) as pool:
        return list(pool.map(lambda urls: first(urls, proxy, timeout, limit), alternatives))


def repositories(resolved, timeout=15):
    """[(position, repository, first()'s answer)] for each index of the request's repositories (one per suite where
    they have suites), all read at once, whole (build_stamp fingerprints them)."""
    where = [(i, repo, urls) for i, repo in enumerate(resolved.get('repositories', []))
             for urls in distros.repository_index_urls(resolved['os'], repo)]
    found = fetch_all([w[2] for w in where], resolved.get('location', {}).get('proxy'), timeout)
    return [w[:2] + (answer,) for w, answer in zip(where, found)]


def expired(data, field, now=None):
    """The date of ``field`` (an RFC 2822 date, as apt's Valid-Until) in index ``data`` (bytes) when it is past;
    else None."""
    found = re.search(r'^%s:\s*(.+?)\s*$' % re.escape(field), data.decode('utf-8', 'replace'), re.MULTILINE)
    if not found:
        return None
    try:
        until = email.utils.parsedate_to_datetime(found.group(1))
    except (TypeError, ValueError):
        return None
    return found.group(1) if until < (now or datetime.datetime.now(datetime.timezone.utc)) else None
