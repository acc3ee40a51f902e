"""The seed's manual checks as scripts: PASS/FAIL with evidence, on the embedded stack or real servers."""
