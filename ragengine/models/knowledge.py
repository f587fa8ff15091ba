"""Knowledge: sets of documents, the documents, and their chunks."""

from __future__ import annotations

from django.db import models
from django.utils.text import slugify


class ReembedStatus(models.TextChoices):
    """A knowledge set's re-embedding: none asked, queued → running → done, or failed
    (the old vectors keep serving and `reembed_error` says why)."""

    IDLE = "", "—"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class VectorText(models.TextChoices):
    """What a knowledge set's chunk vectors were embedded from: the chunk's text alone
    (sets built before titles reached the dense side), or its document's title and
    heading path, then its text (`services/chunk_records.embedding_text`)."""

    TEXT = "text", "Chunk text"
    TITLED = "titled", "Title and headings, then the chunk text"


class KnowledgeSet(models.Model):
    """A named group of documents that channels and people are given access to.

    `index_version` is bumped on every document change so anything derived from the
    set (cached answers) can tell it is stale. `embedder` records which embedder built
    the set's vectors and `vector_space` which store holds them ("" the main one): a
    search embeds the question with that embedder and searches that store only, so
    vectors of two models are never compared. `vector_text` records what each chunk's
    vector was embedded from. When the configured embedder or text differs, a
    background re-embed (`services/reembed.py`) builds the set's vectors anew (in
    another space for another embedder) and switches the fields at once.
    """

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=140, unique=True)
    description = models.TextField(blank=True)
    embedder = models.CharField(max_length=200, blank=True)
    vector_space = models.CharField(
        max_length=120, blank=True, help_text="Store holding the vectors (blank: the main one)."
    )
    vector_text = models.CharField(
        max_length=10,
        choices=VectorText.choices,
        default=VectorText.TEXT,  # a set's first ingestion records the configured kind
        help_text="What the chunk vectors were embedded from.",
    )
    reembed_status = models.CharField(
        "re-embed", max_length=10, choices=ReembedStatus.choices, blank=True, default=""
    )
    reembed_target = models.CharField("re-embed to", max_length=200, blank=True)
    reembed_error = models.TextField("re-embed error", blank=True)
    reembed_done = models.PositiveIntegerField(default=0)
    reembed_total = models.PositiveIntegerField(default=0)
    reembed_started_at = models.DateTimeField(null=True, blank=True)
    reembed_updated_at = models.DateTimeField(null=True, blank=True)
    index_version = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        if not self.slug:
            self.slug = slugify(self.name)[:140] or "set"
        super().save(*args, **kwargs)


class DocumentStatus(models.TextChoices):
    """queued → parsing → embedding → ready, or failed with a readable `error`."""

    QUEUED = "queued", "Queued"
    PARSING = "parsing", "Parsing"
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"

    @classmethod
    def in_progress(cls) -> tuple[str, ...]:
        """States a worker still has to finish (a stale one is swept: see the sweep)."""
        return (cls.QUEUED, cls.PARSING, cls.EMBEDDING)


class DocumentKind(models.TextChoices):
    """A document is a file, a JSON/JSONL export (a container whose records are the
    documents that answer: it has no chunks of its own), or one record of an export."""

    FILE = "file", "File"
    EXPORT = "export", "Export"
    RECORD = "record", "Record"


class Document(models.Model):
    """One source file (or one record of a JSON/JSONL export) in a knowledge set.

    An uploaded export is a row of kind `export` (its status is the reading of the file;
    `metadata` holds its record counts); each record is a row of kind `record` whose
    `parent` is the export, so deleting, re-ingesting or moving the export does the same
    to all its records.

    `content_hash` is the hash of the bytes last seen; `indexed_hash` the hash whose
    chunks are in the vector store. They differ while a change is being applied, or
    after an interrupted run, which tells the next run what to redo.
    """

    knowledge_set = models.ForeignKey(
        KnowledgeSet, on_delete=models.CASCADE, related_name="documents"
    )
    title = models.CharField(max_length=500)
    source = models.CharField(max_length=1000, help_text="File path or URL the text came from.")
    kind = models.CharField(
        max_length=10, choices=DocumentKind.choices, default=DocumentKind.FILE, db_index=True
    )
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="records",
        help_text="The export this record came from.",
    )
    mime_type = models.CharField(max_length=120, blank=True)
    size_bytes = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    indexed_hash = models.CharField(max_length=64, blank=True)
    status = models.CharField(
        max_length=20, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED
    )
    uploaded_by = models.CharField(
        max_length=200, blank=True, help_text="Who uploaded it (admin user or API token)."
    )
    ingest_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Ingestions started since it was last queued by a person."
    )
    error = models.TextField(blank=True, help_text="Why the last ingestion failed.")
    chunk_count = models.PositiveIntegerField(default=0)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ingested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["knowledge_set", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["knowledge_set", "source"], name="document_unique_source_per_set"
            )
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return self.title


class Chunk(models.Model):
    """A retrievable piece of a document; remembers where it came from for citations."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    heading_path = models.CharField(max_length=1000, blank=True)
    page = models.PositiveIntegerField(null=True, blank=True)
    content_hash = models.CharField(max_length=64)
    embedding = models.BinaryField(help_text="float32 little-endian, L2-normalised.")

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="chunk_unique_ordinal")
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"
