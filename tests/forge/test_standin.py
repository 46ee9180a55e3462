#!/usr/bin/env python3
"""Tests of the GitLab stand-in (placeholder; filled in by issue 3)."""
import unittest

if __name__ == "__main__":
    unittest.main()
