import Link from "next/link";

export const metadata = { title: "Not allowed" };

export default function NotAllowed() {
  return (
    <main id="main">
      <div className="card">
        <h1>Not allowed</h1>
        <p>Your role in this restaurant cannot open this page. If you need it, ask an owner.</p>
        <p>
          <Link href="/">Back to the forecasts</Link>
        </p>
      </div>
    </main>
  );
}
