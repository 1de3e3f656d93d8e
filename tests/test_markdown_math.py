"""Formulas in what people write (``coursehub.services.content.markdown``): a student's ``$...$``
reaches classmates as MathML their browser draws, with nothing that can run, restyle the
page or keep the server busy, and ordinary dollars stay dollars."""

from __future__ import annotations

import time

import pytest

from coursehub.services.content import markdown
from coursehub.services.content.markdown import MAX_FORMULAS, to_safe_html
from tests.xss_corpus import MACRO_BOMB, XSS_CORPUS, assert_harmless

ERROR = '<code class="math-error">'


def test_a_classmate_sees_the_area_of_a_circle_as_a_formula():
    html = to_safe_html(r"The area is $\pi r^2$.")

    assert html.startswith('<p>The area is <math display="inline">')
    assert "<mi>π</mi><msup><mi>r</mi><mn>2</mn></msup>" in html
    assert "$" not in html and html.endswith("</math>.</p>\n")
    assert_harmless(html)


def test_display_math_is_a_block_on_its_own_lines_or_inside_a_sentence():
    alone = to_safe_html("We get\n\n$$\n\\int_0^1 x\\,dx = \\frac{1}{2}\n$$\n\nas hoped.")
    inline = to_safe_html(r"so $$\sum_{i=1}^n i = \frac{n(n+1)}{2}$$ holds")

    assert '<p>We get</p>\n<math display="block">' in alone
    assert "<mo>∫</mo>" in alone and "<mfrac><mrow><mn>1</mn></mrow><mrow><mn>2</mn>" in alone
    assert inline.startswith('<p>so <math display="block">') and "<mo>∑</mo>" in inline
    for html in (alone, inline):
        assert_harmless(html)


def test_a_matrix_binomial_and_text_keep_their_shape():
    html = to_safe_html(r"$\begin{pmatrix}a&b\\c&d\end{pmatrix}$, $\binom{n}{k}$, $x\text{ if }y$")

    assert "<mtable><mtr><mtd><mi>a</mi></mtd><mtd><mi>b</mi></mtd></mtr>" in html
    assert '<mfrac linethickness="0">' in html
    assert "<mtext>\xa0if\xa0</mtext>" in html or "<mtext>&nbsp;if&nbsp;</mtext>" in html
    assert_harmless(html)


@pytest.mark.parametrize(
    ("text", "source"),
    [
        (r"Is $\frac{1}{$ right?", r"$\frac{1}{$"),
        (r"Powers: $x^1^2$", r"$x^1^2$"),
        (r"$\left( x$ is open", r"$\left( x$"),
        ("$$\n\\begin{matrix} a & b\n$$", "$$\n\\begin{matrix} a &amp; b\n$$"),
        (r"Macros: $\newcommand{\R}{\mathbb{R}}\R$", r"$\newcommand{\R}{\mathbb{R}}\R$"),
        ("$" + r"\frac{" * 500 + "x" + "}{y}" * 500 + "$", r"$\frac{\frac{\frac{"),
        ("$" + "{" * 1000 + "x" + "}" * 1000 + "$", "${{{{{{"),
        ("$" + "x+" * 1001 + "$", "$x+x+x+"),
    ],
    ids=[
        "unclosed group",
        "double superscript",
        "left without right",
        "unfinished environment",
        "macro definition",
        "fractions 500 deep",
        "braces 1000 deep",
        "longer than 2000 characters",
    ],
)
def test_latex_that_cannot_be_drawn_shows_its_source(text, source):
    html = to_safe_html(text)

    assert ERROR in html and source in html
    assert "<math" not in html
    assert_harmless(html)


def test_html_typed_inside_latex_is_text_in_the_formula():
    html = to_safe_html(r"$\text{<img/src=x/onerror=alert(1)>}$ and $a<b>c$")

    assert "<mtext>&lt;img/src=x/onerror=alert(1)&gt;</mtext>" in html
    assert "<mo>&lt;</mo>" in html and "<img" not in html
    assert_harmless(html)


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("It costs $5 and $10.", "It costs $5 and $10."),
        ("Between $ 5 and $ 6", "Between $ 5 and $ 6"),
        ("Prices: $5-$10, or $20.", "Prices: $5-$10, or $20."),
        ("Budget 100$ and 200$ for $x and $y", "Budget 100$ and 200$ for $x and $y"),
        ("Not math: \\$x\\$", "Not math: $x$"),
        ("Just $", "Just $"),
        ("$$ alone", "$$ alone"),
    ],
    ids=["prices", "spaces inside", "price range", "trailing dollars", "escaped", "one", "two"],
)
def test_dollars_in_prose_stay_dollars(text, kept):
    assert to_safe_html(text) == f"<p>{kept}</p>\n"


def test_a_sentence_with_a_price_and_a_formula_has_one_formula():
    html = to_safe_html(r"It costs $5, so $n \cdot 5$ for $n$ people.")

    assert html.startswith("<p>It costs $5, so <math")
    assert html.count("<math") == 2


def test_code_keeps_its_dollars():
    html = to_safe_html("Run `echo $HOME $x$`:\n\n```bash\necho $$ $x$\n$$\n```\n\n    $y$")

    assert "<code>echo $HOME $x$</code>" in html
    assert "echo $$ $x$\n$$\n</code></pre>" in html
    assert "<pre><code>$y$\n</code></pre>" in html
    assert "<math" not in html


def test_math_false_leaves_formulas_as_typed():
    assert to_safe_html(r"what about $x^2$?", math=False) == "<p>what about $x^2$?</p>\n"


@pytest.mark.parametrize(
    ("latex", "removed"),
    [
        (r"\href{javascript:alert(1)}{x}", "href"),
        (r"\style{position:fixed;inset:0}{x}", "style"),
        (r"\class{btn btn-danger}{x}", "class"),
        (r"\color{white}{x}", "mathcolor"),
        (r"\Huge{\Huge{x}}", "mathsize"),
        (r"\rule{1em}{1em}", "mathbackground"),
        (r"\hspace{10000em} x", "width"),
        (r"\kern-500em x", "width"),
    ],
)
def test_latex_cannot_link_restyle_or_move_the_page(latex, removed):
    html = to_safe_html(f"${latex}$")

    assert "<math" in html and f"{removed}=" not in html
    assert_harmless(html)


def test_small_spaces_and_stretchy_brackets_keep_their_sizes():
    html = to_safe_html(r"$a\quad b \hspace{2cm} \big( c$")

    assert '<mspace width="1em">' in html and '<mspace width="2cm">' in html
    assert '<mo minsize="1.2em" maxsize="1.2em">(</mo>' in html


MXSS = [
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<math><mi><style><img src=x onerror=alert(1)></style></mi></math>",
    '<math><annotation-xml encoding="text/html"><style><img src=x onerror=alert(1)>',
    '<math><semantics><annotation encoding="text/html"><img src=x onerror=alert(1)>',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    '<math><mtext><mglyph><svg><mtext><style><a title="</style><img src onerror=alert(1)>">',
    '<math><maction actiontype="statusline#x" href="javascript:alert(1)"><mi>x</mi></maction>',
    '<math><mi xlink:href="javascript:alert(1)" style="position:fixed">x</mi></math>',
    "<math>" + "<mrow>" * 600 + "<mtext><style><img src=x onerror=alert(1)>" + "</mrow>" * 600,
]


@pytest.mark.parametrize("payload", MXSS, ids=[f"mxss {n}" for n in range(len(MXSS))])
def test_mxss_payloads_in_posts_or_formulas_are_harmless(payload):
    # In a post, raw HTML is escaped; inside $...$, it is LaTeX made of letters and symbols.
    for text in (payload, f"${payload}$", f"$$\n{payload}\n$$"):
        html = to_safe_html(text)
        assert_harmless(html)
        assert "<img" not in html and "<style" not in html


@pytest.mark.parametrize("payload", MXSS, ids=[f"mxss {n}" for n in range(len(MXSS))])
def test_the_sanitiser_keeps_nothing_dangerous_of_raw_mathml(payload):
    # As if a renderer bug let HTML through, the allowlist alone must make it harmless. (What
    # is left may be an empty <table> in <mtext> or an <img src="x">: HTML, without handlers.)
    html = markdown._sanitiser.clean(payload)

    for dangerous in ("<style", "<svg", "<mglyph", "<annotation", "<semantics", "<maction"):
        assert dangerous not in html
    for attribute in ("onerror", "href", "style=", "actiontype"):
        assert attribute not in html


def test_the_sanitiser_keeps_mathml_a_formula_needs():
    mathml = (
        '<math display="block"><mrow><mfrac linethickness="0"><mi mathvariant="normal">x'
        '</mi><mn>2</mn></mfrac><mo stretchy="false" lspace="0.2em">(</mo><mspace width="1em">'
        '</mspace><mstyle displaystyle="true" scriptlevel="0"><msqrt><mi>y</mi></msqrt>'
        "</mstyle></mrow></math>"
    )

    assert markdown._sanitiser.clean(mathml) == mathml


@pytest.mark.parametrize(
    "text",
    [
        MACRO_BOMB,
        "$" + "\\\\" * 5_000 + "$",
        "$" + "{" * 10_000 + "$",
        "$$a" + "$b" * 10_000,
        "$$a\n\n" * 4_000,
        "$x$ " * 5_000,
        ("$" + r"\LaTeX" * 330 + "$ ") * 10,
        ("$" + "x+" * 999 + "x$ ") * 10,
    ],
    ids=[
        "macro bomb",
        "5,000 line breaks",
        "10,000 open braces",
        "unclosed double dollar",
        "4,000 unclosed blocks",
        "5,000 formulas",
        "logos",
        "long sums",
    ],
)
def test_huge_or_hostile_math_returns_quickly(text):
    started = time.perf_counter()
    html = to_safe_html(text)

    # About 0.3 s on a busy two-core machine: the caps bound the work, not the input.
    assert time.perf_counter() - started < 3
    assert len(html) < 2_000_000
    assert_harmless(html)


def test_a_text_draws_at_most_its_allowance_of_formulas_and_shows_the_rest():
    html = to_safe_html("$x$ " * (MAX_FORMULAS + 3))

    assert html.count("<math") == MAX_FORMULAS
    assert html.count(f"{ERROR}$x$</code>") == 3


@pytest.mark.parametrize(
    "payload", [text for _name, text in XSS_CORPUS], ids=[name for name, _text in XSS_CORPUS]
)
def test_the_whole_xss_corpus_renders_harmlessly(payload):
    assert_harmless(to_safe_html(payload))


# -- in Chromium --------------------------------------------------------------------------------

SHOWN = [
    r"The area is $\pi r^2$ and $$\frac{a}{b}$$.",
    "$$\n\\sum_{i=1}^n i\n$$",
    r"$\text{</mtext></math><img src=x onerror=alert(1)>}$",
    *[text for _name, text in XSS_CORPUS if "math" in _name or "latex" in _name],
]


@pytest.mark.browser
def test_chromium_draws_the_formulas_as_mathml_and_runs_nothing(page):
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    bodies = [to_safe_html(text) for text in SHOWN]
    bodies += [markdown._sanitiser.clean(payload) for payload in MXSS]
    page.set_content(
        "<!doctype html><body>"
        + "".join(f'<div class="post">{body}</div>' for body in bodies)
        + "</body>"
    )
    page.wait_for_timeout(300)

    found = page.evaluate(
        """() => {
          const posts = [...document.querySelectorAll('.post')];
          const all = posts.flatMap(post => [...post.querySelectorAll('*')]);
          const again = document.createElement('div');
          return {
            unsafe: all.filter(el => ['script', 'style', 'svg', 'iframe', 'mglyph', 'maction']
                .includes(el.localName)
                || [...el.attributes].some(a => a.name.startsWith('on') || a.name === 'style'))
              .map(el => el.outerHTML),
            mathNamespaces: [...new Set(all.filter(el => el.localName.startsWith('m'))
              .map(el => el.namespaceURI))],
            firstDisplay: getComputedStyle(posts[1].querySelector('math')).display,
            stable: posts.every(post => {
              again.innerHTML = post.innerHTML;
              return again.innerHTML === post.innerHTML;
            }),
          };
        }"""
    )

    assert found["unsafe"] == [] and dialogs == []
    assert found["mathNamespaces"] == ["http://www.w3.org/1998/Math/MathML"]
    assert found["firstDisplay"] == "block math"
    assert found["stable"], "re-parsing the sanitised HTML changed it (mutation XSS)"
