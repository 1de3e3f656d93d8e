"""Course certificates: each course's rule, issuing in the transaction that meets it, the PDF
(WeasyPrint, rendered by a job), public verification, and the signed Open Badges 3.0
credential."""
