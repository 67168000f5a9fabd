"""Shell completion scripts for bash and zsh, written from the argument parser (so they follow its commands).

An option's value completes from its choices, as a directory when the action says ``complete = 'directory'``,
as nothing when it is a number, else as a file name; a command's positional argument likewise.
"""

from __future__ import annotations

import argparse


def _kind(action):
    if action.choices is not None:
        return ('words', ' '.join(str(c) for c in action.choices))
    if getattr(action, 'complete', None) == 'directory':
        return ('directory', '')
    if action.type is int:
        return ('none', '')
    return ('file', '')


def _takes_value(action):
    return action.nargs != 0


def _actions(parser):
    return parser._actions  # pylint: disable=protected-access


def _commands(parser):
    """[(name, help, [option actions], [positional actions])] of the parser's subcommands (those made without a
    help are internal, such as the ones ``build --builder`` runs over SSH, and are not offered)."""
    sub = next(a for a in _actions(parser) if isinstance(a, argparse._SubParsersAction))  # pylint: disable=W0212
    helps = {a.dest: a.help or '' for a in sub._choices_actions}  # pylint: disable=protected-access
    return [(name, helps[name], [a for a in _actions(p) if a.option_strings],
             [a for a in _actions(p) if not a.option_strings]) for name, p in sub.choices.items() if name in helps]


def _options(parser):
    return [s for a in _actions(parser) for s in a.option_strings]


def _bash_value(kind, words):
    if kind == 'words':
        return 'COMPREPLY=($(compgen -W "%s" -- "$cur"))' % words
    if kind == 'directory':
        return 'COMPREPLY=($(compgen -d -- "$cur"))'
    if kind == 'none':
        return 'COMPREPLY=()'
    return 'COMPREPLY=($(compgen -f -- "$cur"))'


def bash(parser):
    prog = parser.prog
    func = '_%s' % prog.replace('-', '_')
    lines = ['# bash completion for %s: osimage completion bash > /etc/bash_completion.d/%s' % (prog, prog),
             '%s() {' % func,
             '    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd= i',
             '    for ((i = 1; i < COMP_CWORD; i++)); do',
             '        [[ ${COMP_WORDS[i]} != -* ]] && { cmd=${COMP_WORDS[i]}; break; }',
             '    done',
             '    if [[ -z $cmd ]]; then',
             '        COMPREPLY=($(compgen -W "%s" -- "$cur"))'
             % ' '.join([c[0] for c in _commands(parser)] + _options(parser)),
             '        return',
             '    fi',
             '    case $cmd in']
    for name, _help, options, positionals in _commands(parser):
        lines.append('    %s)' % name)
        valued = [o for o in options if _takes_value(o)]
        if valued:
            lines.append('        case $prev in')
            for option in valued:
                lines.append('            %s) %s; return ;;'
                             % ('|'.join(option.option_strings), _bash_value(*_kind(option))))
            lines.append('        esac')
        words = ' '.join(s for o in options for s in o.option_strings)
        value = _bash_value(*_kind(positionals[0])) if positionals else 'COMPREPLY=()'
        lines.append('        if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "%s" -- "$cur"))' % words)
        lines.append('        else %s; fi ;;' % value)
    lines += ['    esac', '}', 'complete -o filenames -F %s %s' % (func, prog), '']
    return '\n'.join(lines)


def _zsh_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def _zsh_help(text):
    text = (text or '').split(' (')[0]
    return text.replace('\\', '\\\\').replace('[', '\\[').replace(']', '\\]').replace(':', '\\:')


def _zsh_value(kind, words, label):
    action = {'words': '(%s)' % words, 'directory': '_files -/', 'none': ' ', 'file': '_files'}[kind]
    return '%s:%s' % (label, action)


def zsh(parser):
    prog = parser.prog
    func = '_%s' % prog.replace('-', '_')
    commands = _commands(parser)
    lines = ['#compdef %s' % prog,
             '# zsh completion for %s: osimage completion zsh > "${fpath[1]}/_%s"' % (prog, prog),
             '%s() {' % func,
             '    local context state state_descr line',
             '    typeset -A opt_args',
             '    local -a commands',
             '    commands=(']
    lines += ['        ' + _zsh_quote('%s:%s' % (name, help_.replace(':', '\\:'))) for name, help_, _o, _p in commands]
    top = ' '.join(_zsh_quote('(- *)%s[%s]' % (string, _zsh_help(a.help)))
                   for a in _actions(parser) for string in a.option_strings)
    lines += ['    )',
              "    _arguments -C %s '1: :->command' '*:: :->args'" % top,
              '    case $state in',
              '        command) _describe command commands ;;',
              '        args)',
              '            case $line[1] in']
    for name, _help, options, positionals in commands:
        specs = []
        for option in options:
            for string in option.option_strings:
                spec = '%s[%s]' % (string, _zsh_help(option.help))
                if _takes_value(option):
                    spec += ':' + _zsh_value(*_kind(option), option.dest)
                specs.append(_zsh_quote(spec))
        for index, positional in enumerate(positionals, 1):
            specs.append(_zsh_quote('%d:%s' % (index, _zsh_value(*_kind(positional), positional.dest))))
        lines.append('                %s) _arguments %s ;;' % (name, ' '.join(specs)))
    lines += ['            esac ;;',
              '    esac',
              '}',
              'if [[ $funcstack[1] == %s ]]; then %s "$@"; else compdef %s %s; fi' % (func, func, func, prog),
              '']
    return '\n'.join(lines)


SCRIPTS = {'bash': bash, 'zsh': zsh}
