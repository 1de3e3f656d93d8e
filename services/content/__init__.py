"""What people upload and write: markdown made safe, notebooks read safely, previews, and
uploaded files.
"""
