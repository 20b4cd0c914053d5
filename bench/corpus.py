"""Synthetic articles in the archive's format, for benchmarks.

Words are drawn by frequency from the vocabulary beside the shared reference
generator (../shared/corpus/vocab-zh-hk.tsv: jieba's dictionary in Hong
Kong script), so posting lists are as long as in real Chinese text. Every
article has front matter, paragraphs with some English names, figures with
captions and credits, and the outlet's footer. Deterministic for a seed.
"""
import bisect
import datetime as dt
import itertools
import random
from pathlib import Path
from urllib.parse import quote

VOCAB = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "vocab-zh-hk.tsv"
CATEGORIES = ["眾聞", "眾評", "眾動", "眾聲", "專題", "國際", "經濟"]
AUTHORS = ["眾新聞記者", "眾新聞中國組", "眾新聞國際組", "陳朗昇", "李雅文", "黃思詠", "Staff Reporter"]
TAGS = ["中美關係", "香港政治", "國安法", "立法會", "新冠肺炎", "疫苗", "台灣", "新疆", "人權", "經濟",
        "樓市", "教育", "警察", "法庭", "選舉", "一國兩制", "美國", "英國", "歐盟", "日本", "南海",
        "科技", "環境", "勞工", "醫療", "文化", "傳媒", "布林肯Antony Blinken", "中國駐美大使崔天凱"]
NAMES = ["Antony Blinken", "Joe Biden", "Reuters", "Associated Press", "WHO", "COVID-19", "BioNTech", "HSBC"]
CREDITS = ["美聯社圖片", "路透社圖片", "資料圖片", "何君健攝", "受訪者提供", "眾新聞製圖", ""]
FOOTER = ("請加入成為眾新聞的月費訂戶，長期支持我們的工作。所有訂戶都可以收到我們的「每周時事」通訊 。\n\n"
          "月費訂戶 [網址：hkcnews.com/aboutus/#subscribe](/web/20210801172339/https://www.hkcnews.com/aboutus/#subscribe)\n")


class Words:
    def __init__(self, rnd, vocab=VOCAB):
        self.rnd = rnd
        self.words, weights = [], []
        for line in vocab.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#"):
                word, freq, _ = line.split("\t")
                self.words.append(word)
                weights.append(int(freq))
        self.cumulative = list(itertools.accumulate(weights))

    def clause(self, lo=3, hi=9):
        total = self.cumulative[-1]
        words = [self.words[bisect.bisect_right(self.cumulative, self.rnd.random() * total)]
                 for _ in range(self.rnd.randint(lo, hi))]
        if self.rnd.random() < 0.06:
            words.insert(self.rnd.randrange(len(words) + 1), f"（{self.rnd.choice(NAMES)}）")
        return "".join(words)

    def sentence(self):
        clauses = [self.clause() for _ in range(self.rnd.randint(1, 4))]
        return "，".join(clauses) + self.rnd.choice("。。。？！")

    def paragraph(self):
        return "".join(self.sentence() for _ in range(self.rnd.randint(1, 4)))


def article(number, words, rnd):
    date = dt.date(2017, 1, 1) + dt.timedelta(days=rnd.randrange(365 * 5))
    stamp = (dt.datetime(2021, 8, 1) + dt.timedelta(seconds=rnd.randrange(86400 * 120))).strftime("%Y%m%d%H%M%S")
    title = "【" + words.clause(2, 3) + "】" + words.clause(3, 6) + "　" + words.clause(3, 6)
    original = f"https://www.hkcnews.com/article/{number}/{quote(title)}"
    tags = rnd.sample(TAGS, rnd.choice([0, 1, 2, 3, 3, 4]))
    lines = ["---", f'title: "{title}"', f'date: "{date}"', f'author: "{rnd.choice(AUTHORS)}"',
             f'category: "{rnd.choice(CATEGORIES)}"']
    lines += ["tags:"] + [f'  - "{t}"' for t in tags] if tags else ["tags: []"]
    lines += [f'url: "https://web.archive.org/web/{stamp}/{original}"', f'original_url: "{original}"', "---", "",
              f"# {title}", ""]
    paragraphs = rnd.randint(4, 14)
    figures_after = set(rnd.sample(range(paragraphs - 1), min(paragraphs - 1, rnd.choice([0, 1, 1, 2, 3]))))
    for p in range(paragraphs):
        lines += [words.paragraph(), ""]
        if p in figures_after:
            image = f"https://www.hkcnews.com/news_新聞/hk-discuss/{date:%Y/%m}/{quote(words.clause(1, 2))}_{rnd.randrange(16**4):04x}_large.jpg"
            lines += ["<figure>", f'<img src="https://web.archive.org/web/{stamp}im_/{image}" alt="">']
            if rnd.random() < 0.85:
                lines.append(f"<figcaption>{words.sentence()}{rnd.choice(CREDITS)}</figcaption>")
            lines += ["</figure>", ""]
    lines += ["", "---", "", "", FOOTER]
    return "\n".join(lines)


def write_corpus(count, folder, seed=1):
    """Write ``count`` articles under ``folder``, 1,000 to a subfolder."""
    rnd = random.Random(seed)
    words = Words(rnd)
    folder = Path(folder)
    for i in range(count):
        number = 1000 + i
        sub = folder / f"{number // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"{number}.md").write_text(article(number, words, rnd), encoding="utf-8")
    (folder / ".complete").write_text(str(count))
    return folder
