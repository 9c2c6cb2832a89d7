"""The report's fonts: DejaVu Sans (shipped with matplotlib) for English, a TrueType CJK font for Chinese.

matplotlib's PDF backend embeds TrueType outlines (``pdf.fonttype`` 42: CID TrueType, Identity-H, with a
ToUnicode map so the text extracts); OpenType/CFF fonts such as Noto Sans CJK's ``.otf`` do not embed that
way. The CJK font is WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``, Apache-2.0 or GPL-3+ with the
font-embedding exception, so embedding it in a report is allowed), installed by ``make system-deps``, or
WenQuanYi Zen Hei (``fonts-wqy-zenhei``, GPL-2 with the font exception); ``PUE_AGENT_CJK_FONT`` names
another TrueType (``.ttf``/``.ttc``) file.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from agent.errors import HistoryStoreError

__all__ = ["CJK_FONT_CANDIDATES", "CJK_FONT_ENV", "CJK_PROBE", "cjk_font", "font_family"]

CJK_FONT_ENV = "PUE_AGENT_CJK_FONT"
#: a font without glyphs for these draws boxes ("tofu") instead of Chinese: refused
CJK_PROBE = "数据中心能效审计报告电能利用效率碳可再生"
CJK_FONT_CANDIDATES: tuple[Path, ...] = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
)


def cjk_font() -> Path:
    """The CJK TrueType font file (``PUE_AGENT_CJK_FONT``, else the first installed candidate).

    Raises
    ------
    HistoryStoreError
        none found, or ``PUE_AGENT_CJK_FONT`` names a missing or non-TrueType file.
    """
    named = os.environ.get(CJK_FONT_ENV)
    if named:
        path = Path(named)
        if not path.is_file() or path.suffix.lower() not in (".ttf", ".ttc"):
            raise HistoryStoreError(
                f"{CJK_FONT_ENV}={named}: not a TrueType font file (.ttf or .ttc; matplotlib's PDF backend "
                "cannot embed OpenType/CFF outlines)"
            )
        missing = _missing_glyphs(str(path))
        if missing:
            raise HistoryStoreError(
                f"{CJK_FONT_ENV}={named}: the font has no glyphs for {missing!r}: Chinese would print as boxes"
            )
        return path
    for path in CJK_FONT_CANDIDATES:
        if path.is_file():
            return path
    raise HistoryStoreError(
        "a Chinese report needs a CJK TrueType font and none is installed: run `make system-deps` (installs "
        "Debian fonts-wqy-microhei) or `apt-get install fonts-wqy-microhei`, or set "
        f"{CJK_FONT_ENV} to a .ttf/.ttc file with Chinese glyphs (looked for: "
        + ", ".join(str(p) for p in CJK_FONT_CANDIDATES)
        + ")"
    )


@functools.lru_cache(maxsize=8)
def _missing_glyphs(path: str) -> str:
    """The characters of :data:`CJK_PROBE` the font at ``path`` has no glyph for."""
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=0, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return "".join(c for c in CJK_PROBE if ord(c) not in cmap)


@functools.lru_cache(maxsize=8)
def _register(path: str) -> str:
    from matplotlib import font_manager

    font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def font_family(lang: str) -> tuple[list[str], str | None]:
    """(matplotlib family names, the CJK font file or None) of the report text in ``lang``.

    Chinese needs the CJK font (an error without it) and takes its Latin from DejaVu Sans where it has
    none; English is DejaVu Sans with the CJK font as fallback when installed, for Chinese names from
    the site config.
    """
    if lang == "zh":
        path = cjk_font()
        return [_register(str(path)), "DejaVu Sans"], str(path)
    try:
        path = cjk_font()
    except HistoryStoreError:
        return ["DejaVu Sans"], None
    return ["DejaVu Sans", _register(str(path))], str(path)
