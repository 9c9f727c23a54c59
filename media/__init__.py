"""Photo evidence: resumable uploads, storage and image processing (issue 4)."""
