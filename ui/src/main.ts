import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

// The theme chosen in Settings, before the first paint (the engine's copy follows on load).
const theme = localStorage.getItem("weft.theme");
if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;

const target = document.getElementById("app");
if (!target) throw new Error("no #app element");
export default mount(App, { target });
