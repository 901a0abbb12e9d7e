"""The paper this package reproduces, cited once: cards, the ``evaluate`` metric and the README use this entry."""

ARXIV_ID = "2512.07783"
ARXIV_URL = f"https://arxiv.org/abs/{ARXIV_ID}"
TITLE = "On the Interplay of Pre-Training, Mid-Training, and RL on Reasoning Language Models"

CITATION = f"""@misc{{zhang2025interplaypretrainingmidtrainingrl,
      title={{{TITLE}}},
      author={{Charlie Zhang and Graham Neubig and Xiang Yue}},
      year={{2025}},
      eprint={{{ARXIV_ID}}},
      archivePrefix={{arXiv}},
      primaryClass={{cs.CL}},
      url={{{ARXIV_URL}}},
}}"""
