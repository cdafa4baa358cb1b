"""The Gradio app's pieces: pure rendering (render), live episodes in a worker thread (live),
run-folder browsing and the single-file HTML report (trajectories). ``app.py`` wires them."""
