"""The command-line conventions of ``peforge report``, ``peforge synth`` and the scripts in
``scripts/``: a mistake on the command line is one line on stderr naming the flag as the user
typed it and what is allowed, exit status 2, no file written and no traceback.

* :func:`script_main` (parse, then :func:`run_command`) -- every report's ``main``;
* :class:`OneLineParser` / :func:`script_parser` (one-line usage errors, :func:`flag_of`: the
  option string the user typed), argparse types (:func:`int_at_least`, :func:`number_above`,
  :func:`choice_list`), :func:`check_output` and :func:`write_text` for output paths;
* :func:`parse_param_pairs`, :func:`check_params`, :func:`check_value`, :func:`elaborate`:
  generator parameters as a report's user typed them, errors rewritten to name those flags.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

from ..fpga import ECP5_FREQ_MHZ, FlowError

__all__ = [
    "UsageError", "progress", "run_command", "script_main", "OneLineParser", "script_parser",
    "flag_of", "int_at_least", "number_above", "choice_list", "add_ecp5_freq_option",
    "check_output", "write_text", "parse_param_pairs", "check_params", "check_value",
    "elaborate",
]

_T0 = time.monotonic()


class UsageError(FlowError):
    """A mistake on the command line: unknown generator or parameter, bad value or combination,
    an output path that cannot be written. Raised before anything is written;
    :func:`run_command` prints its one line (which names the flag as the user typed it and what
    is allowed) and exits with status 2."""


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

def progress(message: str) -> None:
    """Print one progress line on stderr (synthesis steps take seconds to a minute)."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def run_command(prog: str, produce, *, args=None, files=(), dirs=(), elapsed: bool = True
                ) -> int:
    """Body of every script's ``main``: check the output paths, run ``produce()``, print the text
    it returns and the elapsed time.

    ``files`` and ``dirs`` name destinations of ``args`` (the namespace of a
    :class:`OneLineParser`) that hold an output file or directory (or None); each is checked
    with :func:`check_output` before ``produce()`` runs, so an unwritable path fails before any
    synthesis. A mistake of the user (:class:`UsageError`, raised before anything is written)
    gives one line on stderr and exit status 2; another :class:`FlowError` (a tool failed) or an
    unreadable or unwritable file gives one line and status 1; Ctrl-C gives status 130. None of
    them prints a traceback.
    """
    start = time.monotonic()
    try:
        for dest in files:
            check_output(getattr(args, dest), flag_of(args, dest))
        for dest in dirs:
            check_output(getattr(args, dest), flag_of(args, dest), directory=True)
        text = produce()
    except UsageError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except FlowError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prog}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    print(text, end="")
    if elapsed:
        progress(f"done in {time.monotonic() - start:.1f}s")
    return 0


def script_main(prog: str, parse_args, produce, argv=None, *, files=(), dirs=()) -> int:
    """A script's ``main``: ``args = parse_args(argv)`` (``argv`` None: the command line), then
    :func:`run_command` of ``produce(args)`` with ``files`` and ``dirs`` (destinations of
    ``args`` that name output files and directories, checked before ``produce`` runs)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_command(prog, lambda: produce(args), args=args, files=files, dirs=dirs)


def _one_line(message: str) -> str:
    return " ".join(message.split())



class OneLineParser(argparse.ArgumentParser):
    """``argparse`` for every script: a usage error is one line on stderr and exit status 2
    (argparse prints the usage text as well by default), like ``generate-verilog``.

    The namespace it returns has ``flags``: destination -> the option string the user typed
    for it (``-o`` or ``--output``), or the longest one if not given; see :func:`flag_of`.
    """

    def error(self, message):
        if message.startswith("unrecognized arguments"):
            options = [max(a.option_strings, key=len) for a in self._actions if a.option_strings]
            message += f"; allowed options: {', '.join(options)}"
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")

    def parse_known_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else list(args)
        namespace, extras = super().parse_known_args(argv, namespace)
        flags = {}
        for token in argv:
            if token == "--":
                break
            if not token.startswith("-") or token == "-":
                continue
            name = token.split("=", 1)[0]
            if name not in self._option_string_actions:
                if name.startswith("--"):       # an abbreviation (--out for --output)
                    found = [o for o in self._option_string_actions if o.startswith(name)]
                    if len(found) != 1:
                        continue
                    action = self._option_string_actions[found[0]]
                else:                           # -oDIR
                    name = name[:2]
                    if name not in self._option_string_actions:
                        continue
                    action = self._option_string_actions[name]
            else:
                action = self._option_string_actions[name]
            flags.setdefault(action.dest, name)
        for action in self._actions:
            if action.option_strings:
                flags.setdefault(action.dest, max(action.option_strings, key=len))
        namespace.flags = flags
        return namespace, extras


def script_parser(prog: str, doc: str, **kwargs) -> OneLineParser:
    """The :class:`OneLineParser` of a script named ``prog``: the first paragraph of its
    docstring ``doc`` is the description, shown as written; ``kwargs`` (``epilog``, ...) go to
    the parser."""
    return OneLineParser(prog=prog, description=doc.split("\n\n")[0],
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def flag_of(args, dest: str) -> str:
    """The option string the user typed for ``dest`` (see :class:`OneLineParser`)."""
    flags = getattr(args, "flags", None) or {}
    return flags.get(dest, "--" + dest.replace("_", "-"))


def _parse_int(text: str) -> int:
    """An integer as the generators read one (:func:`generators.params.parse_int`)."""
    from generators.params import parse_int

    return parse_int(text)


def _checked_type(convert, fits, allowed: str, name: str):
    """``argparse`` type: ``convert(text)`` if that succeeds and ``fits`` the value; anything
    else is a one-line usage error ending in ``allowed: {allowed}``. ``name`` is what argparse
    calls the type in its messages."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not fits(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: {allowed}")
        return value
    parse.__name__ = name
    return parse


def int_at_least(minimum: int):
    """``argparse`` type: an integer ``>= minimum``; anything else is a one-line usage error."""
    return _checked_type(_parse_int, lambda value: value >= minimum,
                         f"integer {minimum} or more", "int")


def number_above(minimum: float):
    """``argparse`` type: a number ``> minimum`` (e.g. a clock target in MHz)."""
    return _checked_type(float, lambda value: minimum < value < float("inf"),
                         f"a number above {minimum:g}", "number")


def add_ecp5_freq_option(parser: argparse.ArgumentParser) -> None:
    """``--ecp5-freq MHZ``: the clock target of :func:`nextpnr_ecp5_ooc` (``args.ecp5_freq``)."""
    parser.add_argument("--ecp5-freq", type=number_above(0), default=ECP5_FREQ_MHZ, metavar="MHZ",
                        help="ECP5 clock target for timing-driven place and route "
                             f"[default: {ECP5_FREQ_MHZ:g}]")


def choice_list(choices: tuple[str, ...], *, every: str | None = "all"):
    """``argparse`` type: a comma-separated subset of ``choices`` (or ``every`` for all of
    them), returned as a tuple in the order of ``choices``."""
    allowed = "a comma-separated subset of " + ", ".join(choices) + (f", or {every}" if every
                                                                      else "")

    def parse(text):
        names = [t.strip() for t in text.split(",") if t.strip()]
        if every is not None and names == [every]:
            return tuple(choices)
        bad = [t for t in names if t not in choices]
        if bad or not names:
            which = f" ({', '.join(map(repr, bad))} unknown)" if bad and bad != [text] else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed{which}; allowed: {allowed}")
        return tuple(c for c in choices if c in names)
    parse.__name__ = "list"
    return parse


def check_output(path, flag: str, *, directory: bool = False) -> None:
    """Raise :class:`UsageError` unless ``path`` (an output file, or with ``directory`` an output
    directory; None is fine) can be created or overwritten. Creates nothing."""
    if path is None:
        return
    path = Path(path)
    shown = f"{flag} {path}"
    allowed = ("allowed: a directory you can write to (created if missing)" if directory else
               "allowed: a file path in a directory you can write to (created if missing)")
    if path.exists():
        if directory and not path.is_dir():
            raise UsageError(f"{shown}: is a file, not a directory; {allowed}")
        if not directory and path.is_dir():
            raise UsageError(f"{shown}: is a directory; {allowed}")
        if not os.access(path, os.W_OK | (os.X_OK if directory else 0)):
            raise UsageError(f"{shown}: permission denied; {allowed}")
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{shown}: {parent} is not a directory; {allowed}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: cannot create it in {parent}: permission denied; {allowed}")


def write_text(path: Path, text: str, flag: str) -> None:
    """Write an output file the user named with ``flag`` (parent directories created); a
    failure is a :class:`UsageError` naming the flag."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write: {exc.strerror}; allowed: a file path in "
                         f"a directory you can write to") from None

def parse_param_pairs(pairs: list[str], flag: str = "--param") -> tuple[dict, dict]:
    """Read the generator parameters given with ``flag``: ``["a_format=int8", "lanes=4"]`` (or
    ``"a=1,b=2"`` items; ``"modes=w8,w2"`` is one value). Returns ``(values, origins)``: parameter name (``-`` read as ``_``) ->
    value string, and parameter name -> the text the user typed (``"--param lanes=4"``), which
    :func:`elaborate` puts into its error messages."""
    values, origins = {}, {}
    for pair in pairs:
        # A comma starts a new pair only before NAME=, so a value may hold commas
        # (modes=w8,w2).
        items = [p.strip().rstrip(",").strip()
                 for p in re.split(r",(?=\s*[A-Za-z_][\w-]*\s*=)", pair) if p.strip(" ,")]
        for item in items or [""]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                what = "not" if item == pair.strip() else f"{item!r} is not"
                raise UsageError(f"{flag} {pair}: {what} NAME=VALUE; allowed: "
                                 f"NAME=VALUE[,NAME=VALUE...] with a parameter of the "
                                 f"generator, e.g. {flag} lanes=4")
            name = key.strip().replace("-", "_")
            values[name] = value.strip()
            origins[name] = f"{flag} {item}"
    return values, origins


def _generators():
    """``(get_generator, ParamError)`` of the peforge package (imported when first needed)."""
    from generators import get_generator
    from generators.params import ParamError

    return get_generator, ParamError


def _generator(name: str):
    get_generator, ParamError = _generators()
    try:
        return get_generator(name)
    except ParamError as exc:
        raise UsageError(str(exc)) from None


#: A generator flag in a ParamError message, with the value that may follow it ("--lanes 4").
_FLAG_RE = re.compile(r"(?<![\w-])(?P<flag>--[a-z0-9][a-z0-9-]*)(?: (?P<value>[^\s;,()]+))?")


def _parses(param, text: str) -> bool:
    try:
        param.parse(text)
    except Exception:   # only a probe: whatever the text is, it is not a value
        return False
    return True


def _usage_error(gen, exc: Exception, origins: dict, param_flag: str | None) -> UsageError:
    """A generator's :class:`ParamError` (which names its ``generate-verilog`` flags) as a
    :class:`UsageError` naming what the user typed for this script.

    Each flag of a parameter of ``gen`` in the message is rewritten: ``--lanes`` alone (the
    subject of the message, ``--lanes: 65 is not allowed``) becomes the user's text from
    ``origins`` (``--param lanes=65``), or, for a parameter the user did not give, how to give
    it (``--param lanes``, or the bare name when the script has no ``param_flag``); ``--flag
    VALUE`` becomes ``--param name=VALUE`` (or the script's own flag and VALUE). When the
    message names nothing the user typed, the user's parameters are appended.
    """
    by_flag = {p.flag: p for p in gen.params}

    def setting(param, value=None):
        typed = origins.get(param.name)
        own_flag = typed is not None and not (param_flag and typed.startswith(param_flag + " "))
        if value is None:
            if typed is not None:
                return typed
            return f"{param_flag} {param.name}" if param_flag else param.name
        if own_flag:
            return f"{typed} {value}"
        return f"{param_flag} {param.name}={value}" if param_flag else f"{param.name}={value}"

    def rewrite(match):
        param = by_flag.get(match["flag"])
        if param is None:
            return match[0]
        if match["value"] is not None and _parses(param, match["value"]):
            return setting(param, match["value"])
        return setting(param) + match[0][len(match["flag"]):]

    text = _FLAG_RE.sub(rewrite, _one_line(str(exc)))
    given = list(dict.fromkeys(origins.values()))
    if given and not any(t in text for t in given):
        text += f" (given: {' '.join(given)})"
    return UsageError(text)


def check_params(generator: str, values: dict[str, str], origins: dict[str, str] | None = None,
                 *, param_flag: str | None = "--param") -> dict:
    """Resolve ``generator``'s parameters from command-line style ``values`` without building
    anything; return them resolved.

    ``origins`` maps parameter names to the text the user typed for them (from
    :func:`parse_param_pairs`, or a script's own flag such as ``--lanes``); ``param_flag`` is
    the script's flag for any generator parameter (None if it has none). An unknown generator
    or parameter, a bad value or a bad combination is a :class:`UsageError` whose one line names
    what the user typed and what is allowed (see :func:`_usage_error`).
    """
    origins = origins or {}
    gen = _generator(generator)
    known = [p.name for p in gen.params]
    for name in values:
        if name not in known:
            raise UsageError(f"{origins.get(name, name)}: unknown parameter {name!r} of "
                             f"{gen.name}; allowed: {', '.join(known)}")
    _, ParamError = _generators()
    try:
        return gen.resolve(values)
    except ParamError as exc:
        raise _usage_error(gen, exc, origins, param_flag) from None


def check_value(generator: str, name: str, text: str, origin: str, *,
                param_flag: str | None = None):
    """One parameter of ``generator`` alone (no combination rules), as the user gave it with
    ``origin``; return its value or raise :class:`UsageError`."""
    gen = _generator(generator)
    _, ParamError = _generators()
    param = next(p for p in gen.params if p.name == name)
    try:
        return param.parse(text)
    except ParamError as exc:
        raise _usage_error(gen, exc, {name: origin}, param_flag) from None


def elaborate(generator: str, values: dict[str, str], origins: dict[str, str] | None = None,
              *, param_flag: str | None = "--param"):
    """Elaborate ``generator`` with command-line style ``values``; a mistake is a
    :class:`UsageError` as in :func:`check_params`."""
    check_params(generator, values, origins, param_flag=param_flag)
    _, ParamError = _generators()
    gen = _generator(generator)
    try:
        return gen.elaborate(values)
    except ParamError as exc:
        raise _usage_error(gen, exc, origins or {}, param_flag) from None


