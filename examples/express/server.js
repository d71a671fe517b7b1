// Listens where Slipway says: 127.0.0.1:$PORT.
const express = require("express");

const app = express();
app.get("/", (req, res) => res.send(`hello from express ${process.env.GREETING || ""}`.trim()));
app.listen(Number(process.env.PORT), "127.0.0.1");
