"""Quiz questions in the formats other LMSs use: Moodle XML, GIFT and QTI 1.2 (Canvas's quiz
export) read into the question bank, and the bank (or one quiz) written out as Moodle XML and
as a QTI 1.2 zip. One module per format; ``bank_import`` and ``bank_export`` tie them to the
bank. Nothing here trusts a file: XML is read without DTDs or entities, zips are bounded and
never unpacked to disk, HTML goes through nh3 before it becomes markdown.
"""
