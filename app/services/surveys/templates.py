"""Ready-made surveys the secretariat copies and adapts: the follow-up after a program (seed 000 §8(1): how
participants will stay involved and what they think about moving) and a yearly check-in with members.

The questions are content, not interface text: they are written in Japanese, as members will read them, and
staff edit the copy. Question kinds and option rules are those of app/services/surveys/builder.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.services.surveys.surveys import fit


@dataclass(frozen=True)
class TemplateQuestion:
    kind: str  # single | multiple | scale | short | long
    text: str
    options: tuple[str, ...] = ()  # choices; for a scale the labels of 1 and 5
    required: bool = True
    key: str = ""  # what the dashboard reads this question as (SurveyQuestion.key)


@dataclass(frozen=True)
class SurveyTemplate:
    key: str
    name: str
    description: str
    title: str
    intro: str
    questions: tuple[TemplateQuestion, ...]
    # How a copy starts out: a follow-up hangs on one program and opens a week after it ends.
    target_kind: str = "everyone"
    follow_up_days: int | None = None
    open_days: int = 14


# Shared by both templates, so answers over the years and across surveys can be compared.
RESIDENCE_INTENT = TemplateQuestion(
    "single",
    "二地域居住や移住について、いまのお考えに最も近いものを選んでください。",
    (
        "すでに二地域居住をしている",
        "二地域居住を具体的に考えている",
        "移住を具体的に考えている",
        "いつかは考えてみたい",
        "いまのところ考えていない",
    ),
    # The dashboard counts every answer but the last ("not considering it") as an intent to move.
    key="intent_to_move",
)

FOLLOW_UP = SurveyTemplate(
    key="follow_up",
    name="プログラム参加後アンケート",
    description="参加者に、満足度・再訪の意向・今後の関わり方・二地域居住や移住への考えをたずねます。",
    title="プログラム参加後アンケート",
    intro=(
        "先日はプログラムにご参加いただき、ありがとうございました。\n"
        "今後の地域との関わり方について、5分ほどで答えられるアンケートにご協力ください。"
        "いただいた回答は、プログラムの改善と地域の受け入れづくりに活かします。"
    ),
    target_kind="program",
    follow_up_days=7,
    questions=(
        TemplateQuestion("scale", "プログラム全体の満足度を教えてください。", ("不満", "満足")),
        TemplateQuestion(
            "single",
            "また、この地域を訪れたいと思いますか。",
            ("ぜひ訪れたい", "機会があれば訪れたい", "どちらともいえない", "あまり思わない"),
        ),
        TemplateQuestion(
            "multiple",
            "これから、地域とどのように関わりたいですか。（あてはまるものすべて）",
            (
                "次のプログラムにも参加したい",
                "オンライン交流会に参加したい",
                "地域の活動に継続して関わりたい",
                "ふるさと納税で応援したい",
                "地域の産品を買って応援したい",
                "SNSなどで地域の魅力を発信したい",
                "ワーケーションで滞在したい",
                "特に考えていない",
            ),
        ),
        RESIDENCE_INTENT,
        TemplateQuestion(
            "multiple",
            "地域と関わり続けるために、どのような支援があるとよいですか。（あてはまるものすべて）",
            (
                "交通費の補助",
                "滞在先やお試し住宅の紹介",
                "仕事や副業の紹介",
                "地域の人とつながる場",
                "二地域居住・移住の相談窓口",
                "子育てや教育の情報",
            ),
            required=False,
        ),
        TemplateQuestion("long", "プログラムで良かったこと、改善してほしいことを自由にお書きください。", required=False),
        TemplateQuestion("short", "受け入れてくれた地域の方へ、ひとことメッセージをどうぞ。", required=False),
    ),
)

# How a follow-up's title says when it is sent (days after the program ends: plans.FOLLOW_UP_DAYS).
FOLLOW_UP_AFTER = {7: "1週間後", 90: "3か月後", 365: "1年後"}


def follow_up_title(program_title: str, days: int, limit: int) -> str:
    """「<program>」参加後アンケート（1週間後）, the program's name shortened with … to fit `limit`."""
    return fit(lambda name: f"「{name}」参加後アンケート（{FOLLOW_UP_AFTER[days]}）", program_title, limit)


CHECK_IN = SurveyTemplate(
    key="check_in",
    name="ふるさと住民アンケート（年1回）",
    description="登録しているふるさと住民に、この1年の関わりと、これからの暮らし方への考えをたずねます。",
    title="ふるさと住民アンケート",
    intro=(
        "ふるさと住民としてつながってくださり、ありがとうございます。\n"
        "この1年の地域との関わりについて、3分ほどで答えられるアンケートです。"
        "これからの取り組みとアプリの改善に活かします。"
    ),
    target_kind="everyone",
    questions=(
        TemplateQuestion(
            "single", "この1年で、地域を訪れた回数を教えてください。", ("0回", "1回", "2〜3回", "4〜9回", "10回以上")
        ),
        TemplateQuestion("scale", "地域とのつながりを、どのくらい感じていますか。", ("まったく感じていない", "強く感じている")),
        TemplateQuestion(
            "multiple",
            "この1年で、地域とどのように関わりましたか。（あてはまるものすべて）",
            (
                "地域プログラムに参加した",
                "オンライン交流会に参加した",
                "エントリーパスを利用した",
                "ワーケーションをした",
                "ふるさと納税をした",
                "地域の産品を買った",
                "SNSなどで地域のことを発信した",
                "特になし",
            ),
        ),
        RESIDENCE_INTENT,
        TemplateQuestion(
            "multiple",
            "アプリで受け取りたい情報を選んでください。（あてはまるものすべて）",
            ("プログラムやイベント", "仕事・副業", "住まい・空き家", "地域のニュース", "お店の特典"),
            required=False,
        ),
        TemplateQuestion("long", "地域やこのアプリへのご意見・ご要望をお聞かせください。", required=False),
    ),
)

TEMPLATES: dict[str, SurveyTemplate] = {template.key: template for template in (FOLLOW_UP, CHECK_IN)}
