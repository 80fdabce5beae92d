"""The command-line front ends: ``metanav-train``, ``metanav-eval``, ``metanav-plot``.

They parse arguments, pick the device, call the library and print. Errors that
come from bad input (:class:`~metanav.errors.MetaNavError`) end in one line on
stderr and exit status 2, never a traceback.
"""
