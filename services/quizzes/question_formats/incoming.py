"""What a reader understood in a file: questions in the bank's own fields, the ones it skipped
and why, and the images the questions show."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# How a question read from a file names one of its images until the import stores it:
# ``![alt](import-image:KEY)`` in its markdown; ``ReadFile.images[KEY]`` holds the bytes.
IMAGE_SCHEME = "import-image:"


@dataclass
class Incoming:
    """One question understood: ``fields`` as ``quiz_questions.check_question`` takes them;
    ``source`` says where it was (its name, number or line); ``notes`` what did not carry
    over exactly."""

    source: str
    fields: dict[str, Any]
    notes: list[str] = field(default_factory=list)


@dataclass
class Skipped:
    source: str
    reason: str


@dataclass
class ReadFile:
    format: str
    questions: list[Incoming] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)
    title: str = ""

    def skip(self, source: str, reason: str) -> None:
        self.skipped.append(Skipped(source, reason))

    def add_image(self, body: bytes) -> str:
        """The key a question's markdown names this image by (``IMAGE_SCHEME`` + key)."""
        for key, known in self.images.items():
            if known == body:
                return key
        key = f"image{len(self.images) + 1}"
        self.images[key] = body
        return key
