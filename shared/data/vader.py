"""The VADER ground truth: 23,703 human-rated snippets, from the ``vaderSentiment`` sdist.

The corpus of Hutto and Gilbert (ICWSM 2014) ships inside the source distribution of
``vaderSentiment==3.3.2`` (``additional_resources/hutto_ICWSM_2014.tar.gz``): movie review
snippets, Amazon review snippets, New York Times editorial snippets and tweets, each with the
mean of about 20 human ratings on [-4, 4]. It is real English text and real sentiment labels
that work offline, so more than one app reads it (sentiment labels, text generation text).

Example:

    columns = read_vader()
    print(len(columns["text"]), columns["domain"][0], columns["rating"][0])
"""

from __future__ import annotations

import pathlib
import tarfile

import numpy as np

from shared.data.cache import cached_folder, fetch_pypi_sdist

VADER_SDIST = (
    "vaderSentiment",
    "3.3.2",
    "5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9",
)
VADER_DOMAINS = {
    "tweets": "tweets_GroundTruth.txt",
    "movie_reviews": "movieReviewSnippets_GroundTruth.txt",
    "amazon_reviews": "amazonReviewSnippets_GroundTruth.txt",
    "nyt_editorials": "nytEditorialSnippets_GroundTruth.txt",
}


def rating_to_label(rating: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Ratings on [-4, 4] -> 0 negative, 1 neutral, 2 positive (the paper's protocol)."""
    scaled = np.asarray(rating, dtype=float) / 4.0
    return np.where(scaled > threshold, 2, np.where(scaled < -threshold, 0, 1)).astype(np.int32)


def _vader_files(folder: pathlib.Path) -> None:
    sdist = fetch_pypi_sdist(*VADER_SDIST)
    with tarfile.open(sdist) as outer:
        member = next(m for m in outer.getmembers() if m.name.endswith("hutto_ICWSM_2014.tar.gz"))
        inner_file = outer.extractfile(member)
        with tarfile.open(fileobj=inner_file) as inner:
            for entry in inner.getmembers():
                name = pathlib.PurePosixPath(entry.name).name
                if (
                    name in VADER_DOMAINS.values()
                    or name.endswith(".pdf")
                    or name == "_README_.txt"
                ):
                    (folder / name).write_bytes(inner.extractfile(entry).read())


def vader_folder() -> pathlib.Path:
    """The extracted ground-truth files, downloaded, verified and cached once."""
    return cached_folder("vader_ground_truth", _vader_files)


def read_vader(threshold: float = 0.05) -> dict:
    """All 23,703 VADER ground-truth snippets as columns.

    Columns: ``text`` (str), ``label`` (0/1/2 by ``rating_to_label``), ``rating`` (float32 on
    [-4, 4]) and ``domain`` (a key of ``VADER_DOMAINS``), in file order.
    """
    folder = vader_folder()
    texts, ratings, domains = [], [], []
    for domain, file_name in VADER_DOMAINS.items():
        for line in (folder / file_name).read_text(encoding="utf-8").splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3:
                continue
            texts.append(parts[2].strip())
            ratings.append(float(parts[1]))
            domains.append(domain)
    ratings = np.asarray(ratings, dtype=np.float32)
    return {
        "text": texts,
        "label": rating_to_label(ratings, threshold),
        "rating": ratings,
        "domain": domains,
    }
