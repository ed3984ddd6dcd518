"""The bare peer: FastAPI calling a scikit-learn Pipeline on a DataFrame per request
(no validation beyond pandas, no metrics, no logs). Run by bench/serve_load.py."""

import pickle
import sys

import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import ORJSONResponse

with open(sys.argv[1], "rb") as fh:          # the benchmark's own pipeline, written just now
    pipeline = pickle.load(fh)
app = FastAPI()


@app.post("/predict")
async def predict(request: Request):
    body = await request.json()
    frame = pd.DataFrame(body["rows"])
    return ORJSONResponse({"predictions": pipeline.predict(frame).tolist()})


if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), access_log=False,
                log_level="warning", loop="uvloop", http="httptools")
