"""`tunesmith ui`: a local web app over the runs folder (FastAPI, server-rendered pages).

A shell: it reads run folders and launches ordinary `tunesmith run` processes; the work is
done by the library."""
